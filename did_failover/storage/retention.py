"""Retention: old call-history and change-log rows deleted in the background, in small batches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from did_failover.errors import StorageUnavailable
from did_failover.logs import get_logger

log = get_logger("did_failover.storage.retention")

Delete = Callable[[datetime, int], Awaitable[int]]
"""A repository's delete_*_before(cutoff, limit)."""


async def apply_retention(delete: Delete, keep: timedelta, what: str, batch: int = 1000) -> int:
    """Delete `what` older than `keep`, `batch` rows at a time, calls let through between; return how many."""
    cutoff = datetime.now(UTC) - keep
    total = 0
    while (deleted := await delete(cutoff, batch)) > 0:
        total += deleted
        await asyncio.sleep(0.05)
    if total:
        log.info(f"{what} retention applied", deleted=total, older_than=cutoff.isoformat())
    return total


async def retention_loop(delete: Delete, keep: timedelta, what: str, every: float = 3600.0) -> None:
    """apply_retention at once and then every `every` seconds, until cancelled."""
    while True:
        try:
            await apply_retention(delete, keep, what)
        except StorageUnavailable as exc:
            log.warning(f"{what} retention postponed", error=str(exc))
        await asyncio.sleep(every)
