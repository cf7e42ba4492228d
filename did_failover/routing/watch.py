"""The change watcher: applies the change log to the DID cache within a poll, and keeps it short.

Every `serve` process polls `change_log` by id (one indexed range query, whatever the call rate
or the number of DIDs) and expires the cache entries of the DIDs and accounts it names, so the
next call reads the new settings. Changes made with the CLI, by hand in SQL or from another
machine reach every server the same way: through the database they already share.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from did_failover.errors import StorageUnavailable
from did_failover.logs import get_logger
from did_failover.routing.cache import RouteCache
from did_failover.storage.base import Repository
from did_failover.storage.records import ChangeRow
from did_failover.storage.retention import apply_retention, retention_loop

log = get_logger("did_failover.routing.watch")

T = TypeVar("T")

PAGE = 1000
"""Change rows read per query."""
MAX_PAGES = 20
"""Pages read in one poll; further behind than that (a long outage), every entry is expired."""
MAX_GAPS = 1000
GAP_WAIT = 30.0
"""Seconds an id below the newest one seen is looked for again. An id is taken by a transaction
that had not committed when a later one did (two writers at once), or never used at all (the
database reserves ids in blocks); past this wait the cache TTL is the safety net."""
RESET_CHECK = 60
"""Polls that found nothing between two checks that the log was not replaced by an older one."""


class ChangeWatcher:
    """Polls the change log every `interval` seconds (0: never) and expires what it names in the
    cache; deletes changes older than `retention_days` in the background."""

    def __init__(
        self,
        repository: Repository,
        cache: RouteCache,
        interval: float,
        db_timeout: float,
        retention_days: int,
    ) -> None:
        self._repository = repository
        self._cache = cache
        self.interval = interval
        """Seconds between polls; a reload may change it (0 stops polling at the next wake-up)."""
        self._db_timeout = db_timeout
        self._retention = timedelta(days=retention_days)
        self._top: int | None = None
        self._gaps: dict[int, float] = {}
        self._quiet_polls = 0
        self._failing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self.applied = 0
        """Change rows applied to the cache: a metric."""
        self.errors = 0
        """Polls that failed (database down or slow): a metric."""
        self.last_poll_ok = 0.0

    def start(self) -> None:
        """Start polling and the retention task."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._poll_loop()),
            loop.create_task(
                retention_loop(self._repository.delete_changes_before, self._retention, "change log")
            ),
        ]

    def reconfigure(self, interval: float) -> None:
        """Apply a new poll interval at once."""
        self.interval = interval
        self._wake.set()

    async def close(self) -> None:
        """Stop both tasks."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll_loop(self) -> None:
        while True:
            if self.interval > 0:
                try:
                    await self.poll()
                except StorageUnavailable as exc:
                    self._failed(str(exc))
                except Exception as exc:  # never let the watcher die: the TTL alone would be left
                    self._failed(f"{type(exc).__name__}: {exc}")
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # arrives as its timeout fires, and `close` then waited for this loop for ever (a
            # SIGTERM that never ended `serve`, seen under load).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval if self.interval > 0 else None):
                    await self._wake.wait()

    async def poll(self) -> int:
        """Read the changes committed since the last poll and expire what they name; return how many."""
        if self._top is None:
            self._top = await self._ask(self._repository.last_change_id())
            self._cache.expire_all()  # entries read before the first poll may predate a change
            self._poll_ok()
            return 0
        applied = 0
        for _ in range(MAX_PAGES):
            rows = await self._ask(self._repository.changes_after(self._top, sorted(self._gaps), PAGE))
            self._apply(rows)
            applied += len(rows)
            if len(rows) < PAGE:
                break
        else:
            self._top = await self._ask(self._repository.last_change_id())
            self._gaps.clear()
            self._cache.expire_all()
            log.info("change log far ahead: every cached DID expired", top=self._top)
        self._forget_old_gaps()
        if applied == 0:
            await self._check_not_replaced()
        self._poll_ok()
        self.applied += applied
        return applied

    def _apply(self, rows: list[ChangeRow]) -> None:
        now = time.monotonic()
        top = self._top or 0
        dids: set[str] = set()
        accounts: set[str] = set()
        for row in rows:
            self._gaps.pop(row.id, None)
            if row.id > top:
                if row.id - top - 1 <= MAX_GAPS:
                    self._gaps.update(dict.fromkeys(range(top + 1, row.id), now))
                top = row.id
            renamed = [v for v in (row.old, row.new) if v is not None] if row.field == "number" else []
            if row.subject == "account":
                accounts.update(n for n in (row.account, *renamed) if n is not None)
            else:
                dids.update(n for n in (row.did, *(renamed if row.subject == "did" else [])) if n is not None)
        self._top = top
        if dids:
            self._cache.expire(dids)
        if accounts:
            self._cache.expire_accounts(accounts)

    def _forget_old_gaps(self) -> None:
        cutoff = time.monotonic() - GAP_WAIT
        gaps = {gap: seen for gap, seen in self._gaps.items() if seen > cutoff}
        if len(gaps) > MAX_GAPS:
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        self._gaps = gaps

    async def _check_not_replaced(self) -> None:
        """Now and then: a log whose newest id is below ours was restored or recreated; start over."""
        self._quiet_polls += 1
        if self._quiet_polls < RESET_CHECK:
            return
        self._quiet_polls = 0
        newest = await self._ask(self._repository.last_change_id())
        if self._top is not None and newest < self._top:
            log.warning(
                "change log restarted below the last id seen: every cached DID expired", newest=newest
            )
            self._top = newest
            self._gaps.clear()
            self._cache.expire_all()

    def _failed(self, error: str) -> None:
        self.errors += 1
        if not self._failing:
            self._failing = True
            log.warning("change log not readable: routing from the cache as it is", error=error)

    def _poll_ok(self) -> None:
        self.last_poll_ok = time.monotonic()
        if self._failing:
            self._failing = False
            log.info("change log readable again: changes made meanwhile applied")

    async def _ask(self, query: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._db_timeout):
                return await query
        except TimeoutError:
            raise StorageUnavailable("the database did not answer within the database timeout") from None

    async def apply_retention(self, batch: int = 1000) -> int:
        """Delete changes older than the retention period, in small batches; return how many."""
        return await apply_retention(
            self._repository.delete_changes_before, self._retention, "change log", batch
        )
