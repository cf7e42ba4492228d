"""The FastAGI server: accept, route each session to its handler, log it, shut down gracefully."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import resource
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from did_failover.runtime import sdnotify
from did_failover.runtime.logs import get_logger, session_line
from did_failover.settings import Settings
from fastagi.errors import (
    AGIError,
    CallerHungUp,
    CommandRejected,
    ReplyTimeout,
    SessionClosed,
)
from fastagi.session import AGISession, Handler

log = get_logger("fastagi.server")


async def health(session: AGISession) -> None:
    """Built-in `health` route for probes: one VERBOSE, touching nothing else."""
    await session.verbose("did-failover healthy", 3)
    session.fields["outcome"] = "healthy"


class Server:
    """Listens for Asterisk, runs one handler task per session and tracks every live session."""

    def __init__(
        self,
        settings: Settings,
        routes: Mapping[str, Handler],
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.routes: dict[str, Handler] = {"health": health, **routes}
        self.sessions: set[AGISession] = set()
        self.running = 0
        self.counters: collections.Counter[str] = collections.Counter()
        self.observers: list[Callable[[AGISession, str], None]] = []
        """Called with each finished session and its outcome (metrics)."""
        self.started = asyncio.Event()
        self._on_shutdown = on_shutdown
        self._server: asyncio.Server | None = None
        self._stop: asyncio.Event | None = None
        self._force = False
        self._last_refusal_log = 0.0
        self._allow = settings.allow
        self._allowed: dict[str, bool] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop serving (set at start-up): asking for the running loop costs a system call."""

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def accepting(self) -> bool:
        """True while the listening socket accepts new sessions."""
        return self._server is not None and self._server.is_serving()

    def update_settings(self, settings: Settings) -> None:
        """Apply reloaded settings: allowlist, limits and timeouts take effect for new sessions."""
        self.settings = settings
        self._allow = settings.allow
        self._allowed = {}

    # -- lifecycle, like uvicorn's Server.serve(): startup -> main loop -> shutdown -------------------

    async def serve(self, install_signals: bool = True) -> None:
        """Run until asked to stop (signal or `request_stop()`), then shut down gracefully."""
        self._stop = asyncio.Event()
        await self.startup(install_signals)
        try:
            await self._stop.wait()
        finally:
            await self.shutdown()

    async def startup(self, install_signals: bool = True) -> None:
        """Bind the listening socket."""
        raise_open_file_limit()
        host, port = self.settings.listen_address
        self._loop = loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_session, host, port, reuse_address=True, backlog=4096
        )
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        log.info("listening", address=f"{host}:{self.port}", routes=sorted(self.routes))
        self.started.set()

    def request_stop(self) -> None:
        """First call: graceful shutdown. Second call: close every session at once."""
        if self._stop is None:
            return
        if self._stop.is_set():
            self._force = True
            log.warning("second stop signal: closing every session now")
            for session in list(self.sessions):
                self._kill(session)
        self._stop.set()

    async def shutdown(self) -> None:
        """Stop accepting, let sessions finish for the grace period, close the rest, close pools."""
        if self._server is not None:
            self._server.close()
        grace = self.settings.grace_period
        sdnotify.stopping(f"stopping: {len(self.sessions)} sessions in flight")
        log.info("stopping", sessions=len(self.sessions), grace_period=grace)
        deadline = time.monotonic() + grace
        # Polled: sessions end on many paths, and 50 ms is nothing next to a grace period.
        while self.sessions and not self._force and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        left = list(self.sessions)
        for session in left:
            self._kill(session)
        tasks = [s.task for s in left if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=2)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self._on_shutdown is not None:
            await self._on_shutdown()
        log.info("stopped", closed_after_grace=len(left))

    @staticmethod
    def _kill(session: AGISession) -> None:
        if session.task is not None and not session.task.done():
            session.task.cancel()
        session.abort("server shutdown")

    # -- sessions -----------------------------------------------------------------------------------

    def _new_session(self) -> AGISession:
        return _TrackedSession(self)

    def admit(self, session: AGISession) -> bool:
        """Allowlist check at accept; a refused peer is closed at once and counted."""
        host = session.peer.rpartition(":")[0]
        allowed = self._allowed.get(host)
        if allowed is None:
            # A handful of Asterisk hosts connect all day: remember each one's answer (bounded).
            allowed = self._check_allowed(host.strip("[]"))
            if len(self._allowed) >= 4096:
                self._allowed.clear()
            self._allowed[host] = allowed
        if allowed:
            self.sessions.add(session)
            return True
        self.counters["refused_peer"] += 1
        now = time.monotonic()
        if now - self._last_refusal_log >= 1.0:
            self._last_refusal_log = now
            log.warning("peer not allowed", peer=session.peer, refused=self.counters["refused_peer"])
        return False

    def _check_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address):
            address = address.ipv4_mapped or address
        return any(address in net for net in self._allow)

    def on_request(self, session: AGISession) -> None:
        """The environment block is in (or the peer left before it was): start or end the session."""
        if session.request is None:
            self.sessions.discard(session)
            self.counters["protocol_error"] += 1
            log.warning("session", outcome="protocol_error", peer=session.peer, reason=session.close_reason)
            return
        loop = self._loop or asyncio.get_running_loop()
        session.task = loop.create_task(self._run(session))

    async def _run(self, session: AGISession) -> None:
        request = session.request
        assert request is not None
        handler = self.routes.get(request.script)
        outcome = "ok"
        error: str | None = None
        self.running += 1
        try:
            if self.running > self.settings.max_sessions:
                outcome = "over_limit"
                session.send_failure()
            elif handler is None:
                outcome = "unknown_script"
                await session.fail(f"unknown script {request.script!r}")
            else:
                await handler(session)
                outcome = session.fields.pop("outcome", "ok")
        except CallerHungUp:
            outcome = "caller_hangup"
        except SessionClosed as exc:
            outcome, error = "closed", str(exc)
        except ReplyTimeout as exc:
            outcome, error = "reply_timeout", str(exc)
        except CommandRejected as exc:
            outcome, error = "error", f"Asterisk rejected a command: {exc}"
            await session.fail("internal error, see the server log")
        except AGIError as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            session.abort(error)
        except asyncio.CancelledError:
            outcome, error = "cancelled", session.close_reason or "cancelled"
            raise
        except Exception as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            log.exception("handler failed", script=request.script, uniqueid=request.uniqueid)
            with contextlib.suppress(Exception):
                await session.fail("internal error, see the server log")
        finally:
            self.running -= 1
            session.close()
            self.sessions.discard(session)
            self.counters[outcome] += 1
            self._log_session(session, outcome, error)
            for observe in self.observers:
                observe(session, outcome)
            # session -> task -> coroutine -> session is a reference cycle: broken here, a finished
            # call is freed at once instead of waiting for the cycle collector.
            session.task = None

    @staticmethod
    def _log_session(session: AGISession, outcome: str, error: str | None) -> None:
        request = session.request
        assert request is not None
        fields = session.fields
        if error is not None:
            fields["error"] = error
        session_line(
            "fastagi.server",
            {
                "script": request.script,
                "uniqueid": request.uniqueid,
                "channel": request.channel,
                "caller": request.callerid,
                "outcome": outcome,
                "duration_ms": round((time.monotonic() - session.started) * 1000, 1),
                "commands": session.commands,
                **fields,
            },
        )


class _TrackedSession(AGISession):
    """An AGISession that reports to its server; kept apart so the protocol knows nothing of servers."""

    __slots__ = ("_owner",)

    def __init__(self, server: Server) -> None:
        super().__init__(server.on_request, server.settings.env_timeout, server.settings.command_timeout)
        self._owner = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Check the allowlist before anything else."""
        super().connection_made(transport)
        if not self._owner.admit(self):
            self.close_reason = "peer not allowed"
            self.abort("peer not allowed")
            self._env = None  # no request will come: do not report a protocol error

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the session when it never got as far as a request."""
        super().connection_lost(exc)
        if self.task is None:
            self._owner.sessions.discard(self)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard limit (every session holds a socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    log.info("open file limit", limit=soft, hard_limit=hard)
    return soft


def install_event_loop() -> str:
    """Use uvloop when it is installed; return the loop's name for the start-up log."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def run(config: Path | None) -> int:
    """`did-failover serve`: load settings, build the app and serve until stopped."""
    from did_failover.runtime.logs import configure
    from did_failover.settings import load_settings

    try:
        settings = load_settings(config)
    except ValueError as exc:
        print(f"did-failover: error: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level, settings.log_format)
    loop_name = install_event_loop()
    log.info("starting", event_loop=loop_name, version=_version())
    from did_failover.runtime.app import StartupError

    try:
        asyncio.run(_serve(settings, config, loop_name))
    except OSError as exc:
        log.error("cannot listen", error=str(exc), listen=settings.listen)
        return 1
    except StartupError as exc:
        log.error("cannot start", error=str(exc))
        return 1
    return 0


async def _serve(settings: Settings, config: Path | None, loop_name: str) -> None:
    from did_failover.runtime.daemon import serve

    await serve(settings, config, loop_name)


def _version() -> str:
    from did_failover import __version__

    return __version__
