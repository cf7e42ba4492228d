"""Wires the server's routes to their dependencies: the one place where routes are registered."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from did_failover.calls.ami import AmiListener, parse_ami_url
from did_failover.calls.tracker import CallTracker, HistoryWriter
from did_failover.routing.cache import RouteCache
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.handler import DIDFailover
from did_failover.runtime.logs import get_logger
from did_failover.settings import Settings
from did_failover.storage import SCHEMA_VERSION, open_repository
from fastagi.errors import StorageUnavailable
from fastagi.session import Handler

log = get_logger("fastagi.app")


class StartupError(Exception):
    """The server cannot start as configured; the message says what to fix."""


async def build_app(
    settings: Settings,
) -> tuple[dict[str, Handler], Callable[[], Awaitable[None]]]:
    """Return the routes (script path -> handler) and the coroutine that closes what they opened."""
    repository = open_repository(settings.database_url, settings.db_timeout)
    try:
        await repository.connect()
        version = await repository.schema_version()
    except StorageUnavailable as exc:
        # Start anyway: calls get ERROR (the dialplan fallback runs) until the database answers.
        log.warning("database unreachable at start-up", error=str(exc))
    else:
        if version != SCHEMA_VERSION:
            await repository.close()
            found = "no schema" if version is None else f"schema version {version}"
            raise StartupError(
                f"the database has {found}, this did-failover needs version {SCHEMA_VERSION}: "
                "run 'did-failover db init'"
                if version is None or version < SCHEMA_VERSION
                else f"the database has {found}, newer than this did-failover ({SCHEMA_VERSION}): upgrade it"
            )
    cache = RouteCache(repository, settings.cache_ttl, settings.db_timeout)
    history = HistoryWriter(repository, settings.call_log_days)
    history.start()
    tracker = CallTracker(history.add)
    listener = AmiListener(parse_ami_url(settings.ami_url), tracker) if settings.ami_url else None
    if listener is not None:
        listener.start()
    routes: dict[str, Handler] = {
        "did-failover": DIDFailover(cache, DialTemplates(settings), settings.max_hops, tracker),
    }

    async def close() -> None:
        if listener is not None:
            listener.close()  # rows of finished sessions still waiting for AMI are handed over now
        await history.close()
        with contextlib.suppress(Exception):
            await repository.close()

    return routes, close
