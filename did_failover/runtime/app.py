"""The composition root: the one object that builds, owns, reloads and closes what `serve` runs."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable

from did_failover import __version__
from did_failover.calls.ami import AmiListener
from did_failover.calls.history import HistoryWriter
from did_failover.calls.tracker import CallTracker
from did_failover.errors import SchemaMismatch, StorageUnavailable
from did_failover.logs import get_logger, log_session
from did_failover.routing.cache import RouteCache
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.handler import ROUTE, DIDFailover
from did_failover.routing.limits import RedisLimits
from did_failover.routing.watch import ChangeWatcher
from did_failover.runtime import sdnotify
from did_failover.runtime.metrics import Metrics
from did_failover.settings import Settings, parse_ami_url
from did_failover.storage import Repository, check_schema, open_repository
from did_failover.webhooks.delivery import WebhookDelivery
from fastagi.server import Server
from fastagi.session import Handler

log = get_logger("did_failover.runtime")

"""The script path of the route: `AGI(agi://server:4573/did-failover)`."""


class StartupError(Exception):
    """The server cannot start as configured; the message says what to fix."""


def agi_server(
    settings: Settings,
    routes: dict[str, Handler],
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Server:
    """A FastAGI server on `settings` that logs each session's canonical line."""
    return Server(
        settings.server,
        routes,
        on_shutdown,
        logger=get_logger("fastagi.server"),
        observers=[log_session],
        on_stopping=_notify_stopping,
    )


def _notify_stopping(sessions: int) -> None:
    sdnotify.stopping(f"stopping: {sessions} sessions in flight")


class App:
    """Everything `serve` runs: the repository, the DID cache and its change watcher, call tracking
    and history, the AMI listener, the routing handler, the FastAGI server and its metrics, and the
    webhook delivery.

    Built and started by `build`; `reload` applies new settings to every part at once; the server's
    shutdown ends in `close`, which stops the parts in the reverse order.
    """

    def __init__(self, settings: Settings, repository: Repository, event_loop: str) -> None:
        self.settings = settings
        self.repository = repository
        self.cache = RouteCache(repository, settings.cache_ttl, settings.db_timeout)
        self.watcher = ChangeWatcher(
            repository, self.cache, settings.change_poll, settings.db_timeout, settings.change_log_days
        )
        self.history = HistoryWriter(repository, settings.call_log_days)
        self.tracker = CallTracker(self.history.add)
        self.ami = AmiListener(parse_ami_url(settings.ami_url), self.tracker) if settings.ami_url else None
        self.limits = (
            RedisLimits(
                settings.redis_url,
                settings.redis_prefix,
                settings.node or f"{socket.gethostname()}:{settings.listen_address[1]}",
                settings.redis_lease,
                settings.db_timeout,
            )
            if settings.limit_backend == "redis"
            else None
        )
        self.handler = DIDFailover(
            self.cache,
            DialTemplates(settings),
            settings.max_hops,
            self.tracker,
            settings.max_ring_total,
            self.limits,
            # With an AMI session on Asterisk, each SET() of a read-back is also an event Asterisk
            # builds for the manager: measured, that costs it more than the commands saved
            # (bench/README.md, issue 29). Without AMI the read-backs set what comes next.
            look_ahead=not settings.ami_url,
        )
        self.server = agi_server(settings, {ROUTE: self.handler}, self.close)
        self.webhooks = WebhookDelivery.from_settings(repository, settings)
        self.metrics = Metrics(
            self.server,
            self.handler,
            self.history,
            version=__version__,
            event_loop=event_loop,
            ami_connected=(lambda: self.tracker.ami_connected) if self.ami is not None else None,
            watcher=self.watcher,
            webhooks=self.webhooks,
        )

    @classmethod
    async def build(cls, settings: Settings, event_loop: str = "asyncio") -> App:
        """Open the database (or note that it is down), check its schema, start history and AMI."""
        repository = open_repository(settings.database_url, settings.db_timeout, sync_reads=False)
        try:
            await repository.connect()
            await check_schema(repository)
        except SchemaMismatch as exc:
            await repository.close()
            raise StartupError(str(exc)) from None
        except StorageUnavailable as exc:
            # Start anyway: calls get ERROR (the dialplan fallback runs) until the database answers.
            log.warning("database unreachable at start-up", error=str(exc))
        app = cls(settings, repository, event_loop)
        app.history.start()
        app.watcher.start()
        if app.webhooks is not None:
            app.webhooks.start()
        if app.limits is not None:
            await app.limits.start()
        if app.ami is not None:
            app.ami.start()
        return app

    def reload(self, settings: Settings) -> None:
        """Apply settings that can change live (restart-only ones are already the running ones)."""
        self.settings = settings
        self.server.reconfigure(settings.server)
        self.handler.templates = DialTemplates(settings)
        self.handler.max_hops = settings.max_hops
        self.handler.max_ring = settings.max_ring_total
        self.cache.ttl = settings.cache_ttl
        self.watcher.reconfigure(settings.change_poll)

    async def close(self) -> None:
        """Stop AMI, write the history still queued, close the database (the server has stopped)."""
        if self.ami is not None:
            self.ami.close()  # rows of finished sessions still waiting for AMI are handed over now
        if self.limits is not None:
            await self.limits.close()  # every session has ended: no slot is held any more
        await self.watcher.close()
        await self.history.close()  # its last rows' events are in the outbox: the next process sends them
        if self.webhooks is not None:
            await self.webhooks.close()
        with contextlib.suppress(Exception):
            await self.repository.close()

    def status(self) -> str:
        """The STATUS= line `systemctl status` shows."""
        host, _ = self.settings.listen_address
        cache = self.cache
        return (
            f"listening on {host}:{self.server.port}, {len(self.server.sessions)} sessions, "
            f"database {'down' if cache.database_down else 'ok'}, {cache.size} DIDs cached"
        )
