"""`did-failover serve` as a daemon: the server plus systemd notify/watchdog, SIGHUP reload and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from pathlib import Path

from did_failover import __version__
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.handler import DIDFailover
from did_failover.runtime import sdnotify
from did_failover.runtime.logs import configure, get_logger
from did_failover.runtime.metrics import Metrics, MetricsListener
from did_failover.settings import Settings, load_settings
from fastagi.server import Server
from fastagi.session import Handler

log = get_logger("fastagi.daemon")

RESTART_ONLY = frozenset({"listen", "database_url", "db_timeout", "metrics_listen", "ami_url"})
"""Settings a reload cannot change in a running process: sockets and connections opened at start."""

STATUS_INTERVAL = 10.0
"""Seconds between STATUS= updates to systemd (only when run under systemd)."""


async def serve(settings: Settings, config: Path | None, event_loop: str) -> None:
    """Build the app, start metrics, serve until stopped; READY/STOPPING/WATCHDOG to systemd on the way."""
    from did_failover.runtime.app import StartupError, build_app

    routes, on_shutdown = await build_app(settings)
    tune_garbage_collector()
    server = Server(settings, routes, on_shutdown)
    handler = did_failover_handler(routes)
    # The call tracker knows whether AMI is logged in.
    tracker = handler.tracker if handler is not None else None
    metrics = Metrics(
        server,
        handler.cache if handler is not None else None,
        version=__version__,
        event_loop=event_loop,
        ami_connected=None if tracker is None else lambda: tracker.ami_connected,
    )
    listener: MetricsListener | None = None
    if settings.metrics_listen:
        listener = MetricsListener(metrics, settings.metrics_listen)
        try:
            await listener.start()
        except OSError as exc:
            await on_shutdown()
            raise StartupError(f"cannot listen for metrics on {settings.metrics_listen}: {exc}") from None
    reloader = Reloader(server, handler, config, metrics)
    serving = asyncio.create_task(server.serve())
    started = asyncio.create_task(server.started.wait())
    await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
    background: list[asyncio.Task[None]] = []
    try:
        if started.done():
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloader.reload)
            sdnotify.ready(_status(server, handler))
            watchdog = sdnotify.start_watchdog()
            if watchdog is not None:
                background.append(watchdog)
            if os.environ.get("NOTIFY_SOCKET"):
                background.append(asyncio.create_task(_report_status(server, handler)))
        await serving
    finally:
        started.cancel()
        for task in background:
            await sdnotify.stop_watchdog(task)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if listener is not None:
            await listener.close()


GC_THRESHOLDS = (10_000, 20, 100)
"""gc.set_threshold() for serving; Python's default is (700, 10, 10)."""


def tune_garbage_collector() -> None:
    """Fewer, cheaper cycle collections while serving.

    Thousands of held calls are thousands of live objects each collection walks, and with the
    default thresholds objects of calls in flight get promoted and set off full collections that
    stopped the event loop for 5-25 ms under load (burst benchmark). Start-up objects (modules,
    settings, the app) are frozen out of every collection; young collections run 14 times less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def did_failover_handler(routes: dict[str, Handler]) -> DIDFailover | None:
    """The `did-failover` route's handler, whose dial templates and cache a reload updates."""
    handler = routes.get("did-failover")
    return handler if isinstance(handler, DIDFailover) else None


class Reloader:
    """SIGHUP: re-read the settings and apply those that can change live; a bad file changes nothing."""

    def __init__(
        self, server: Server, handler: DIDFailover | None, config: Path | None, metrics: Metrics | None
    ) -> None:
        self.server = server
        self.handler = handler
        self.config = config
        self.metrics = metrics

    def reload(self) -> bool:
        """Reload now; True when the new settings were applied."""
        sdnotify.reloading()
        old = self.server.settings
        try:
            new = load_settings(self.config)
        except ValueError as exc:
            log.error("reload refused, running settings kept", error=str(exc))
            self._count("refused")
            sdnotify.notify("READY=1", f"STATUS=reload refused ({exc}); {_status(self.server, self.handler)}")
            return False
        changed = sorted(name for name in type(new).model_fields if getattr(old, name) != getattr(new, name))
        needs_restart = [name for name in changed if name in RESTART_ONLY]
        effective = new.model_copy(update={name: getattr(old, name) for name in needs_restart})
        self.server.update_settings(effective)
        if self.handler is not None:
            self.handler.templates = DialTemplates(effective)
            self.handler.max_hops = effective.max_hops
            self.handler.cache.ttl = effective.cache_ttl
        # Logged at the old level, then the new one applies: a change to `warning` is still seen.
        log.info(
            "reloaded",
            changed=[name for name in changed if name not in RESTART_ONLY],
            needs_restart=needs_restart,
            log_level=effective.log_level,
        )
        configure(effective.log_level, effective.log_format)
        self._count("applied")
        sdnotify.ready(f"reloaded; {_status(self.server, self.handler)}")
        return True

    def _count(self, status: str) -> None:
        if self.metrics is not None:
            self.metrics.reloads.labels(status).inc()


def _status(server: Server, handler: DIDFailover | None) -> str:
    """The STATUS= line `systemctl status` shows."""
    host, _ = server.settings.listen_address
    text = f"listening on {host}:{server.port}, {len(server.sessions)} sessions"
    if handler is not None:
        cache = handler.cache
        text += f", database {'down' if cache.database_down else 'ok'}, {cache.size} DIDs cached"
    return text


async def _report_status(server: Server, handler: DIDFailover | None) -> None:
    while True:
        await asyncio.sleep(STATUS_INTERVAL)
        sdnotify.status(_status(server, handler))
