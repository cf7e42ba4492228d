"""What every query module of the SQL back ends stands on: the executor interface, the repository's
connection and transaction hooks, the retry of an operation, and timestamps.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import functools
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from did_failover.errors import StorageUnavailable
from did_failover.storage.base import Repository, current_actor

Row = tuple[Any, ...]

ATTEMPTS = 8
"""How often an operation runs at most when it fails with Retry."""

RETRIES: collections.Counter[str] = collections.Counter()
"""Operations run again after a Retry, by operation name, in this process (tests and figures)."""

P = ParamSpec("P")
T = TypeVar("T")


BULK_TIMEOUT = 1800.0
"""Seconds a bulk write's statement or commit may take (see SQLBase._write)."""


class Retry(StorageUnavailable):
    """An operation failed in a way that running it again may cure: a Galera write conflict, or a
    cluster node lost before the commit (the next attempt connects to another node)."""


def retried(operation: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """`operation`, run again (up to ATTEMPTS in all, a short pause between) when it raises Retry."""

    @functools.wraps(operation)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await operation(*args, **kwargs)
            except Retry:
                if attempt == ATTEMPTS:
                    raise
                RETRIES[operation.__name__] += 1
                # Random, growing pauses: two writers that conflicted do not meet again in step.
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    return run


RepositoryClass = TypeVar("RepositoryClass", bound=type[Repository])


def every_operation_retried(cls: RepositoryClass) -> RepositoryClass:
    """Class decorator: each Repository operation of `cls` wrapped in `retried`, so that on a cluster
    one that failed with Retry (a Galera write conflict, a node lost before the commit) runs again."""
    for name, member in vars(Repository).items():
        if getattr(member, "__isabstractmethod__", False) and name not in ("connect", "close", "init_schema"):
            setattr(cls, name, retried(getattr(cls, name)))
    return cls


def _dt(value: Any) -> datetime:
    """A database timestamp (datetime or SQLite text) as an aware UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Executor(abc.ABC):
    """Runs statements on one connection (inside a transaction for writes)."""

    @abc.abstractmethod
    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it matched."""

    @abc.abstractmethod
    async def fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""

    @abc.abstractmethod
    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, skip_known: bool = False
    ) -> None:
        """Insert many rows in as few statements as the driver allows; with `skip_known`, a row whose
        unique key is there already is left out (a batch written again adds nothing)."""

    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        """Run one query and return its first row, None when empty."""
        rows = await self.fetch_all(sql, args)
        return rows[0] if rows else None


class SQLBase(Repository):
    """The hooks each back end supplies (connections, the actor of a transaction, timestamps)."""

    @abc.abstractmethod
    def _read(self) -> AbstractAsyncContextManager[Executor]:
        """An executor for reads (autocommit)."""

    @abc.abstractmethod
    def _write(self, bulk: bool = False) -> AbstractAsyncContextManager[Executor]:
        """An executor inside one transaction: committed on success, rolled back on error. `bulk`:
        its statements and commit may take up to BULK_TIMEOUT (the schema's upgrade, a CSV import
        of a million rows), not the repository's timeout; connecting is bounded as usual."""

    @abc.abstractmethod
    async def _set_actor(self, db: Executor, actor: str | None) -> None:
        """Tell the change-log triggers who writes in this transaction (None: nobody any more)."""

    @asynccontextmanager
    async def _change(self, bulk: bool = False) -> AsyncIterator[Executor]:
        """A write transaction whose changes the triggers record as `current_actor()`'s."""
        async with self._write(bulk) as db:
            await self._set_actor(db, current_actor())
            yield db
            await self._set_actor(db, None)

    @abc.abstractmethod
    def _ts(self, moment: datetime) -> Any:
        """A timestamp as the driver wants it in a parameter."""

    def _now(self) -> Any:
        return self._ts(datetime.now(UTC).replace(microsecond=0))
