"""The call-history writer: rows queued without blocking, written in batches, old rows deleted."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from did_failover.errors import StorageUnavailable
from did_failover.logs import get_logger
from did_failover.storage.base import Repository
from did_failover.storage.records import CallRecord
from did_failover.storage.retention import apply_retention, retention_loop

log = get_logger("did_failover.calls")


class HistoryWriter:
    """Writes call-history rows in the background, in batches, retrying while the database is down."""

    def __init__(
        self, repository: Repository, retention_days: int, max_queue: int = 100_000, batch: int = 2000
    ) -> None:
        self._repository = repository
        self._retention = timedelta(days=retention_days)
        self._queue: list[CallRecord] = []
        self._max_queue = max_queue
        self._batch = batch
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        """Rows dropped because the queue was full (the database was down too long): a metric."""

    def add(self, row: CallRecord) -> None:
        """Queue one row (never blocks); the oldest rows are dropped when the queue is full."""
        if len(self._queue) >= self._max_queue:
            self._queue.pop(0)
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("call history queue full: oldest rows dropped", dropped=self.dropped)
        self._queue.append(row)
        self._wake.set()

    def start(self) -> None:
        """Start the writer and the retention tasks."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._write_loop()),
            loop.create_task(
                retention_loop(self._repository.delete_calls_before, self._retention, "call history")
            ),
        ]

    async def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (bounded by `timeout`), then stop."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(StorageUnavailable, TimeoutError):
            await asyncio.wait_for(self.flush(), timeout)  # nothing is added any more: this is all

    async def flush(self) -> None:
        """Write the rows queued now, in batches; rows that arrive meanwhile wait for the next flush.

        Draining until empty would, under load, commit a handful of rows at a time back to back.
        """
        pending = len(self._queue)
        while pending > 0:
            rows = self._queue[: min(self._batch, pending)]
            await self._repository.insert_calls(rows)
            del self._queue[: len(rows)]
            pending -= len(rows)

    async def _write_loop(self) -> None:
        backoff = 1.0
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(1.0)  # gather a batch: one transaction a second at most
            try:
                await self.flush()
                backoff = 1.0
            except StorageUnavailable as exc:
                log.warning("call history not written yet", queued=len(self._queue), error=str(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                self._wake.set()

    async def apply_retention(self, batch: int = 1000) -> int:
        """Delete calls older than the retention period, in small batches; return how many."""
        return await apply_retention(
            self._repository.delete_calls_before, self._retention, "call history", batch
        )
