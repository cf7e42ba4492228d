"""The DID lookup cache: no database round trip on a hit, last known settings while the database is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Collection
from typing import Literal, TypeVar

from did_failover.errors import StorageUnavailable
from did_failover.logs import get_logger
from did_failover.storage.base import Repository
from did_failover.storage.records import DIDRoute

log = get_logger("did_failover.routing.cache")

T = TypeVar("T")

Source = Literal["hit", "miss", "stale"]
"""Where a lookup's answer came from: fresh cache entry, the database, or a stale entry (database down)."""


class RouteCache:
    """Caches `get_route` answers (unknown DIDs too) for `ttl` seconds; keeps them as a fallback.

    The change watcher expires entries the moment the change log says their DID or account
    changed; the TTL is then only a safety net.
    """

    def __init__(self, repository: Repository, ttl: float, db_timeout: float) -> None:
        self._repository = repository
        self.ttl = ttl
        """Seconds an answer is served from memory; a reload may change it (new entries use it)."""
        self._db_timeout = db_timeout
        self._entries: dict[str, tuple[float, DIDRoute | None]] = {}
        self._inflight: dict[str, asyncio.Future[DIDRoute | None]] = {}
        self._epoch = 0
        """Counts expiries: an answer fetched across one may predate the change, so it is kept
        only as an already expired entry (a fallback while the database is down)."""
        self.database_down = False
        self.last_database_ok = 0.0
        self.hits = 0
        self.misses = 0
        self.errors = 0

    @property
    def size(self) -> int:
        """DIDs known (fresh or stale): what calls can still be routed by while the database is down."""
        return len(self._entries)

    async def database_ok(self, max_age: float) -> bool:
        """True when the database answered within `max_age` seconds, else after asking it once now."""
        if not self.database_down and time.monotonic() - self.last_database_ok < max_age:
            return True
        try:
            await self._ask(self._repository.schema_version())
        except StorageUnavailable:
            return False
        return True

    async def lookup(self, did: str) -> tuple[DIDRoute | None, Source]:
        """The DID's routing data; StorageUnavailable only when the database fails and nothing is known."""
        now = time.monotonic()
        entry = self._entries.get(did)
        if entry is not None and entry[0] > now:
            self.hits += 1
            return entry[1], "hit"
        self.misses += 1
        epoch = self._epoch
        try:
            route = await self._fetch(did)
        except StorageUnavailable:
            self.errors += 1
            if entry is None:
                raise
            return entry[1], "stale"
        self._entries[did] = (time.monotonic() + self.ttl if epoch == self._epoch else 0.0, route)
        return route, "miss"

    def expire(self, dids: Collection[str]) -> None:
        """These DIDs changed: their next call asks the database (the old answer stays as fallback)."""
        self._epoch += 1
        for did in dids:
            entry = self._entries.get(did)
            if entry is not None:
                self._entries[did] = (0.0, entry[1])
            self._inflight.pop(did, None)  # a query already running may predate the change

    def expire_accounts(self, accounts: Collection[str]) -> None:
        """These accounts changed: every cached DID of theirs asks the database on its next call."""
        self.expire(
            [
                did
                for did, (_, route) in self._entries.items()
                if route is not None and route.account_number in accounts
            ]
        )

    def expire_all(self) -> None:
        """Anything may have changed: every DID asks the database on its next call."""
        self._epoch += 1
        self._entries = {did: (0.0, route) for did, (_, route) in self._entries.items()}
        self._inflight.clear()

    async def _fetch(self, did: str) -> DIDRoute | None:
        """One query per DID at a time: concurrent misses for the same DID share it."""
        pending = self._inflight.get(did)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[DIDRoute | None] = asyncio.get_running_loop().create_future()
        self._inflight[did] = future
        try:
            route = await self._ask(self._repository.get_route(did))
        except BaseException as exc:
            error = exc if isinstance(exc, StorageUnavailable) else StorageUnavailable(_describe(exc))
            future.set_exception(error)
            future.exception()  # retrieved: waiters get it through their own await
            raise
        finally:
            if self._inflight.get(did) is future:  # not replaced by a later query after expire()
                del self._inflight[did]
        future.set_result(route)
        return route

    async def _ask(self, query: Awaitable[T]) -> T:
        """Run one database call within the database timeout and track whether the database is up."""
        try:
            async with asyncio.timeout(self._db_timeout):  # not wait_for: see watch.py's poll loop
                result = await query
        except (TimeoutError, StorageUnavailable, OSError) as exc:
            error = exc if isinstance(exc, StorageUnavailable) else StorageUnavailable(_describe(exc))
            self._set_down(str(error))
            raise error from None
        self._set_up()
        return result

    def _set_down(self, error: str) -> None:
        if not self.database_down:
            self.database_down = True
            log.warning("database unreachable: routing from cached DID settings", error=error)

    def _set_up(self) -> None:
        self.last_database_ok = time.monotonic()
        if self.database_down:
            self.database_down = False
            log.info("database reachable again")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer within the database timeout"
    return f"{type(exc).__name__}: {exc}"
