"""The FastAGI server: accept, check the allowlist and limits, route each session, shut down gracefully."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import resource
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

from fastagi.errors import (
    AGIError,
    CallerHungUp,
    CommandRejected,
    ReplyTimeout,
    SessionClosed,
)
from fastagi.log import Logger, StdlibLogger
from fastagi.session import AGISession, Handler

DEFAULT_PORT = 4573
"""Asterisk's default FastAGI port (`agi://host` without a port)."""

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What the server needs to know; the application maps its own settings onto this."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    """Peers allowed to connect; anyone else is closed at accept."""
    max_sessions: int = 10000
    """Sessions run at once; one more gets AGISTATUS=FAILURE straight away."""
    env_timeout: float = 5.0
    """Seconds for the environment block to arrive."""
    command_timeout: float = 10.0
    """Seconds for a reply to a command (a Dial waits as long as it takes)."""
    grace_period: float = 25.0
    """Seconds sessions in flight get to finish at shutdown."""
    name: str = "fastagi"
    """Prefix of the VERBOSE line a failed session writes, and what the `health` route says."""


class SessionEnd(NamedTuple):
    """How a session ended, as the server reports it to its observers."""

    outcome: str
    """`ok`, the handler's own `session.outcome`, or what ended it: `caller_hangup`, `closed`,
    `reply_timeout`, `error`, `cancelled`, `over_limit`, `unknown_script`."""
    error: str | None
    """Why the session failed, when it did."""


SessionObserver = Callable[[AGISession, SessionEnd], None]
"""Called once for each session that started, as it ends (log line, metrics)."""


class Server:
    """Listens for Asterisk, runs one handler task per session and tracks every live session.

    `routes` maps a script path (`agi://host/PATH`) to its handler; a `health` route that touches
    nothing is built in. Observers hear of every session that ends; `on_stopping` is called with
    the number of sessions in flight when shutdown begins, `on_shutdown` after they have ended.
    """

    def __init__(
        self,
        config: ServerConfig,
        routes: Mapping[str, Handler],
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        *,
        logger: Logger | None = None,
        observers: list[SessionObserver] | None = None,
        on_stopping: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self.routes: dict[str, Handler] = {"health": self._health, **routes}
        self.sessions: set[AGISession] = set()
        self.running = 0
        self.counters: collections.Counter[str] = collections.Counter()
        """Sessions ended by outcome, plus connections refused (`refused_peer`, `protocol_error`)."""
        self.observers: list[SessionObserver] = observers if observers is not None else []
        self.started = asyncio.Event()
        self.log: Logger = logger if logger is not None else StdlibLogger()
        self._on_shutdown = on_shutdown
        self._on_stopping = on_stopping
        self._server: asyncio.Server | None = None
        self._stop: asyncio.Event | None = None
        self._force = False
        self._last_refusal_log = 0.0
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

    def reconfigure(self, config: ServerConfig) -> None:
        """Apply a new config: allowlist, limits and timeouts take effect for new sessions (the
        address is kept: the socket is already bound)."""
        self.config = replace(config, host=self.config.host, port=self.config.port)
        self._allowed = {}

    async def _health(self, session: AGISession) -> None:
        """Built-in `health` route for probes: one VERBOSE, touching nothing else."""
        await session.verbose(f"{self.config.name} healthy", 3)
        session.outcome = "healthy"

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
        raise_open_file_limit(self.log)
        host, port = self.config.host, self.config.port
        self._loop = loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_session, host, port, reuse_address=True, backlog=4096
        )
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        self.log.info("listening", address=f"{host}:{self.port}", routes=sorted(self.routes))
        self.started.set()

    def request_stop(self) -> None:
        """First call: graceful shutdown. Second call: close every session at once."""
        if self._stop is None:
            return
        if self._stop.is_set():
            self._force = True
            self.log.warning("second stop signal: closing every session now")
            for session in list(self.sessions):
                self._kill(session)
        self._stop.set()

    async def shutdown(self) -> None:
        """Stop accepting, let sessions finish for the grace period, close the rest, close pools."""
        if self._server is not None:
            self._server.close()
        grace = self.config.grace_period
        if self._on_stopping is not None:
            self._on_stopping(len(self.sessions))
        self.log.info("stopping", sessions=len(self.sessions), grace_period=grace)
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
        self.log.info("stopped", closed_after_grace=len(left))

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
            self.log.warning("peer not allowed", peer=session.peer, refused=self.counters["refused_peer"])
        return False

    def _check_allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address):
            address = address.ipv4_mapped or address
        return any(address in net for net in self.config.allow)

    def on_request(self, session: AGISession) -> None:
        """The environment block is in (or the peer left before it was): start or end the session."""
        if session.request is None:
            self.sessions.discard(session)
            self.counters["protocol_error"] += 1
            self.log.warning(
                "session", outcome="protocol_error", peer=session.peer, reason=session.close_reason
            )
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
            if self.running > self.config.max_sessions:
                outcome = "over_limit"
                session.send_failure()
            elif handler is None:
                outcome = "unknown_script"
                await session.fail(f"{self.config.name}: unknown script {request.script!r}")
            else:
                await handler(session)
                outcome = session.outcome or "ok"
        except CallerHungUp:
            outcome = "caller_hangup"
        except SessionClosed as exc:
            outcome, error = "closed", str(exc)
        except ReplyTimeout as exc:
            outcome, error = "reply_timeout", str(exc)
        except CommandRejected as exc:
            outcome, error = "error", f"Asterisk rejected a command: {exc}"
            await session.fail(f"{self.config.name}: internal error, see the server log")
        except AGIError as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            session.abort(error)
        except asyncio.CancelledError:
            outcome, error = "cancelled", session.close_reason or "cancelled"
            raise
        except Exception as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            self.log.exception("handler failed", script=request.script, uniqueid=request.uniqueid)
            with contextlib.suppress(Exception):
                await session.fail(f"{self.config.name}: internal error, see the server log")
        finally:
            self.running -= 1
            session.close()
            self.sessions.discard(session)
            self.counters[outcome] += 1
            end = SessionEnd(outcome, error)
            for observe in self.observers:
                observe(session, end)
            # session -> task -> coroutine -> session is a reference cycle: broken here, a finished
            # call is freed at once instead of waiting for the cycle collector.
            session.task = None


class _TrackedSession(AGISession):
    """An AGISession that reports to its server; kept apart so the protocol knows nothing of servers."""

    __slots__ = ("_owner",)

    def __init__(self, server: Server) -> None:
        config = server.config
        super().__init__(server.on_request, config.env_timeout, config.command_timeout)
        self._owner = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Check the allowlist before anything else."""
        super().connection_made(transport)
        if not self._owner.admit(self):
            self.refuse("peer not allowed")

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the session when it never got as far as a request."""
        super().connection_lost(exc)
        if self.task is None:
            self._owner.sessions.discard(self)


def raise_open_file_limit(log: Logger | None = None) -> int:
    """Raise the soft open-file limit to the hard limit (every session holds a socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    (log or StdlibLogger()).info("open file limit", limit=soft, hard_limit=hard)
    return soft


def install_event_loop() -> str:
    """Use uvloop when it is installed; return the loop's name for the start-up log."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
