"""Wires the server's routes to their dependencies: the one place where routes are registered."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from fastagi.errors import StorageUnavailable
from fastagi.logs import get_logger
from fastagi.routing.cache import RouteCache
from fastagi.routing.dialstring import DialTemplates
from fastagi.routing.handler import DIDFailover
from fastagi.session import Handler
from fastagi.settings import Settings
from fastagi.storage import open_repository

log = get_logger("fastagi.app")


async def build_app(
    settings: Settings,
) -> tuple[dict[str, Handler], Callable[[], Awaitable[None]]]:
    """Return the routes (script path -> handler) and the coroutine that closes what they opened."""
    repository = open_repository(settings.database_url, settings.db_timeout)
    try:
        await repository.connect()
    except StorageUnavailable as exc:
        # Calls still get an answer (ERROR -> dialplan fallback) and the pool retries on each lookup.
        log.warning("database unreachable at start-up", error=str(exc))
    cache = RouteCache(repository, settings.cache_ttl, settings.db_timeout)
    routes: dict[str, Handler] = {
        "did-failover": DIDFailover(cache, DialTemplates(settings), settings.max_hops),
    }

    async def close() -> None:
        with contextlib.suppress(Exception):
            await repository.close()

    return routes, close
