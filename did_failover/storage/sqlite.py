"""The embedded SQLite back end (aiosqlite): one connection, foreign keys on, WAL journal."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from did_failover.errors import InputError, SchemaMismatch, StorageUnavailable
from did_failover.storage._sql import Executor, Row, SQLRepository, no_schema
from did_failover.storage._upgrades import SQLITE_VERSION_3_COLUMNS, SQLITE_VERSION_5_STATEMENTS


class _SQLiteExecutor(Executor):
    """Executor over the one aiosqlite connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it changed."""
        async with self._conn.execute(sql, tuple(args)) as cursor:
            return cursor.rowcount

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, skip_known: bool = False
    ) -> None:
        """Insert many rows as multi-row INSERTs of up to _MAX_VARIABLES parameters each.

        executemany releases and retakes the GIL around every row; under load that hands the GIL
        back and forth with the event loop thousands of times a second (futex storms, latency).
        """
        per_statement = max(1, _MAX_VARIABLES // len(columns))
        row_marks = "(" + ", ".join("?" for _ in columns) + ")"
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            args = [value for row in chunk for value in row]
            tail = " ON CONFLICT DO NOTHING" if skip_known else ""
            await self.execute(head + ", ".join([row_marks] * len(chunk)) + tail, args)

    async def fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""
        async with self._conn.execute(sql, tuple(args)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]


_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
"""SQLite's default limit on parameters per statement (SQLITE_MAX_VARIABLE_NUMBER)."""


def _translate(exc: sqlite3.Error, where: str) -> Exception:
    """The package exception for a driver error (`where`: the repository's)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return InputError(f"the database refused the change: {exc}")
    if "no such table" in str(exc):
        return no_schema(where)
    return StorageUnavailable(f"database unavailable: {exc}")


class SQLiteRepository(SQLRepository):
    """Repository on a SQLite file; an asyncio lock serialises use of its single connection."""

    _SCHEMA_RESOURCE = "schema_sqlite.sql"
    _TABLE_EXISTS = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
    _COLUMN_EXISTS = "SELECT name FROM pragma_table_info(?) WHERE name = ?"
    _VERSION_3_COLUMNS = SQLITE_VERSION_3_COLUMNS
    _VERSION_5_STATEMENTS = SQLITE_VERSION_5_STATEMENTS

    def _hint(self, index: str) -> str:
        return f" INDEXED BY {index}" if index else ""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._folder = os.path.dirname(os.path.abspath(path))
        self.where = f"SQLite database {path if path == ':memory:' else os.path.abspath(path)}"
        self._may_create = False
        """Only `init_schema` creates a database file; every other use of a missing one is refused."""
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Open the database file now (otherwise done on first use); idempotent. A file that does not
        exist is left to the first use: `init_schema` creates it, anything else is refused."""
        async with self._lock:
            if self.path == ":memory:" or await asyncio.to_thread(os.path.exists, self.path):
                await self._connection()

    async def _connection(self) -> aiosqlite.Connection:
        """The open connection, opened on first use (caller holds the lock)."""
        if self._conn is None:
            if self.path != ":memory:" and not await asyncio.to_thread(os.path.isdir, self._folder):
                raise StorageUnavailable(f"cannot open {self.where}: no folder {self._folder}")
            if (
                self.path != ":memory:"
                and not self._may_create
                and not await asyncio.to_thread(os.path.exists, self.path)
            ):
                raise SchemaMismatch(f"{self.where} does not exist: run 'did-failover db init' to create it")
            try:
                conn = await aiosqlite.connect(self.path, timeout=self.timeout, isolation_level=None)
            except sqlite3.Error as exc:
                # aiosqlite stops its worker thread without waiting; let it finish while the loop runs.
                await asyncio.sleep(0.05)
                raise StorageUnavailable(f"cannot open {self.where}: {exc}") from None
            try:
                await conn.execute("PRAGMA foreign_keys = ON")
                await conn.execute("PRAGMA journal_mode = WAL")
                await conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                await conn.close()
                raise StorageUnavailable(f"cannot open {self.where}: {exc}") from None
            self._conn = conn
        return self._conn

    async def init_schema(self) -> int:
        """Create the database file when there is none, then the schema (SQLRepository.init_schema)."""
        self._may_create = True
        if self.path != ":memory:":
            try:
                await asyncio.to_thread(os.makedirs, self._folder, 0o750, True)
            except OSError as exc:
                raise StorageUnavailable(
                    f"cannot create the folder {self._folder} of {self.where}: {exc.strerror}"
                    " (DID_FAILOVER_DATABASE_URL names the database)"
                ) from None
        return await super().init_schema()

    async def close(self) -> None:
        """Close the connection; idempotent."""
        async with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await conn.close()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Executor]:
        async with self._lock:
            conn = await self._connection()
            try:
                yield _SQLiteExecutor(conn)
            except sqlite3.Error as exc:
                raise _translate(exc, self.where) from None

    @asynccontextmanager
    async def _write(self, bulk: bool = False) -> AsyncIterator[Executor]:
        # SQLite bounds only the wait for the write lock (the connection's timeout), never a
        # statement: `bulk` changes nothing here.
        async with self._lock:
            conn = await self._connection()
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _translate(exc, self.where) from None
            try:
                yield _SQLiteExecutor(conn)
            except BaseException as exc:
                if conn.in_transaction:  # some errors (disk full, I/O) already rolled back
                    await conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _translate(exc, self.where) from None
                raise
            try:
                await conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise _translate(exc, self.where) from None

    async def _set_actor(self, db: Executor, actor: str | None) -> None:
        # A row that only ever exists inside a write transaction: emptied before it commits.
        if actor is None:
            await db.execute("DELETE FROM change_actor")
        else:
            await db.execute("INSERT OR REPLACE INTO change_actor (id, actor) VALUES (1, ?)", (actor,))

    def _ts(self, moment: datetime) -> Any:
        if moment.tzinfo is UTC:
            return moment.isoformat(sep=" ")[:-6]  # without "+00:00" (cheaper than replace())
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(sep=" ")
