"""`did-failover serve`: the app under systemd (notify, watchdog, status), SIGHUP reload and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
from pathlib import Path

from did_failover import __version__
from did_failover.console import EXIT_FAILED, EXIT_INPUT
from did_failover.logs import configure, get_logger
from did_failover.runtime import sdnotify
from did_failover.runtime.app import App, StartupError
from did_failover.runtime.metrics import MetricsListener
from did_failover.settings import Settings, load_settings, load_settings_or_report
from fastagi.server import install_event_loop

log = get_logger("did_failover.runtime")
_server_log = get_logger("fastagi.server")
"""Start-up lines keep the component they always had."""

RESTART_ONLY = frozenset(
    {
        "listen",
        "database_url",
        "db_timeout",
        "metrics_listen",
        "ami_url",
        "call_log_days",
        "change_log_days",
        "limit_backend",
        "redis_url",
        "redis_prefix",
        "redis_lease",
        "node",
    }
)
"""Settings a reload cannot change in a running process: sockets and connections opened at start."""

STATUS_INTERVAL = 10.0
"""Seconds between STATUS= updates to systemd (only when run under systemd)."""

GC_THRESHOLDS = (10_000, 20, 100)
"""gc.set_threshold() for serving; Python's default is (700, 10, 10)."""


def run(config: Path | None) -> int:
    """`did-failover serve`: load settings, build the app and serve until stopped; the exit code."""
    settings = load_settings_or_report(config)
    if settings is None:
        return EXIT_INPUT
    configure(settings.log_level, settings.log_format)
    loop_name = install_event_loop()
    _server_log.info("starting", event_loop=loop_name, version=__version__)
    try:
        asyncio.run(serve(settings, config, loop_name))
    except OSError as exc:
        _server_log.error("cannot listen", error=str(exc), listen=settings.listen)
        return EXIT_FAILED
    except StartupError as exc:
        _server_log.error("cannot start", error=str(exc))
        return EXIT_FAILED
    return 0


async def serve(settings: Settings, config: Path | None, event_loop: str) -> None:
    """Build the app, start metrics, serve until stopped; READY/STOPPING/WATCHDOG to systemd on the way."""
    app = await App.build(settings, event_loop)
    tune_garbage_collector()
    listener: MetricsListener | None = None
    if settings.metrics_listen:
        listener = MetricsListener(app.metrics, settings.metrics_listen)
        try:
            await listener.start()
        except OSError as exc:
            await app.close()
            raise StartupError(f"cannot listen for metrics on {settings.metrics_listen}: {exc}") from None
    reloader = Reloader(app, config)
    server = app.server
    serving = asyncio.create_task(server.serve())
    started = asyncio.create_task(server.started.wait())
    await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
    background: list[asyncio.Task[None]] = []
    try:
        if started.done():
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloader.reload)
            sdnotify.ready(app.status())
            watchdog = sdnotify.start_watchdog()
            if watchdog is not None:
                background.append(watchdog)
            if os.environ.get("NOTIFY_SOCKET"):
                background.append(asyncio.create_task(_report_status(app)))
        await serving
    finally:
        started.cancel()
        for task in background:
            await sdnotify.stop_watchdog(task)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if listener is not None:
            await listener.close()


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


class Reloader:
    """SIGHUP: re-read the settings and apply those that can change live; a bad file changes nothing."""

    def __init__(self, app: App, config: Path | None) -> None:
        self.app = app
        self.config = config

    def reload(self) -> bool:
        """Reload now; True when the new settings were applied."""
        app = self.app
        sdnotify.reloading()
        old = app.settings
        try:
            new = load_settings(self.config)
        except ValueError as exc:
            log.error("reload refused, running settings kept", error=str(exc))
            app.metrics.reloads.labels("refused").inc()
            sdnotify.notify("READY=1", f"STATUS=reload refused ({exc}); {app.status()}")
            return False
        changed = sorted(name for name in type(new).model_fields if getattr(old, name) != getattr(new, name))
        needs_restart = [name for name in changed if name in RESTART_ONLY]
        effective = new.model_copy(update={name: getattr(old, name) for name in needs_restart})
        app.reload(effective)
        # Logged at the old level, then the new one applies: a change to `warning` is still seen.
        log.info(
            "reloaded",
            changed=[name for name in changed if name not in RESTART_ONLY],
            needs_restart=needs_restart,
            log_level=effective.log_level,
        )
        configure(effective.log_level, effective.log_format)
        app.metrics.reloads.labels("applied").inc()
        sdnotify.ready(f"reloaded; {app.status()}")
        return True


async def _report_status(app: App) -> None:
    while True:
        await asyncio.sleep(STATUS_INTERVAL)
        sdnotify.status(app.status())
