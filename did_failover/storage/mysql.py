"""The MySQL / MariaDB back end (aiomysql): a small pool, autocommit reads, short transactions."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiomysql
import pymysql
from pymysql.constants import CLIENT

from did_failover.errors import InputError, StorageUnavailable
from did_failover.logs import get_logger
from did_failover.storage._base import BULK_TIMEOUT
from did_failover.storage._sql import Executor, Retry, Row, SQLRepository, every_operation_retried, no_schema
from did_failover.storage._upgrades import (
    MYSQL_VERSION_3_COLUMNS,
    MYSQL_VERSION_4_STATEMENTS,
    MYSQL_VERSION_5_STATEMENTS,
)

log = get_logger("did_failover.storage")

# Connections idle longer than this are replaced when taken from the pool. 280 s stays below
# the wait_timeout of hardened servers (often 300 s, the default is 28800 s) and below the idle
# timeout of most NAT/firewall state tables, so a call never meets a connection the server or
# the network has silently dropped; a fresh connection costs a few milliseconds every ~5 min.
POOL_RECYCLE = 280
POOL_MAX = 10
_ER_NO_SUCH_TABLE = 1146
_ER_CHECK_FAILED = (4025, 3819)  # CHECK constraint violated: MariaDB, MySQL 8
_IDEMPOTENT_DDL = ("CREATE TABLE IF NOT EXISTS", "INSERT IGNORE", "DROP TRIGGER IF EXISTS")
_ER_CONFLICT = (1213,)
"""ER_LOCK_DEADLOCK: what Galera answers when a transaction fails certification at commit."""
_ER_NOT_READY = (1047,)
"""WSREP has not yet prepared node for application use: the node left the cluster."""
_ER_TRIGGER_NEEDS_SUPER = 1419
"""ER_BINLOG_CREATE_ROUTINE_NEED_SUPER: CREATE TRIGGER with binary logging on and no SUPER."""
_ER_LOST = (2003, 2006, 2013)
"""Can't connect, server has gone away, lost connection during query."""


@functools.cache
def _mysql_sql(sql: str) -> str:
    """The shared `?` placeholders as the driver's `%s` (the shared SQL has no literal % or ?)."""
    return sql.replace("?", "%s")


def _translate(exc: BaseException, timeout: float, where: str) -> Exception:
    """The package exception for a driver error or timeout (`where`: the repository's)."""
    if isinstance(exc, TimeoutError):
        return StorageUnavailable(f"the database did not answer within {timeout:g} s")
    refused = isinstance(exc, pymysql.err.IntegrityError | pymysql.err.DataError) or (
        isinstance(exc, pymysql.err.MySQLError) and bool(exc.args) and exc.args[0] in _ER_CHECK_FAILED
    )
    if refused:
        detail = exc.args[1] if len(exc.args) > 1 else exc
        return InputError(f"the database refused the change: {detail}")
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and exc.args[0] == _ER_NO_SUCH_TABLE:
        return no_schema(where)
    detail = exc.args[1] if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) > 1 else exc
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and exc.args[0] == _ER_TRIGGER_NEEDS_SUPER:
        return StorageUnavailable(
            "the database refused to create the change-log triggers: binary logging is on (as on every"
            " Galera node) and this user lacks SUPER; set log_bin_trust_function_creators = 1 on the"
            " server (every node), or run 'did-failover db init' as a user with SUPER"
        )
    return StorageUnavailable(f"database unavailable: {detail}")


_DRIVER_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError, TimeoutError)


class _MySQLExecutor(Executor):
    """Executor over one pooled connection; every statement bounded by the timeout."""

    def __init__(self, conn: Any, timeout: float) -> None:
        self._conn = conn
        self._timeout = timeout

    async def _run(self, sql: str, args: Sequence[Any]) -> Any:
        cursor = await self._conn.cursor()
        try:
            async with asyncio.timeout(self._timeout):
                if sql.startswith(_IDEMPOTENT_DDL):
                    # "Table already exists" notes of an idempotent `db init` are expected.
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", pymysql.Warning)
                        await cursor.execute(_mysql_sql(sql), tuple(args) or None)
                else:
                    await cursor.execute(_mysql_sql(sql), tuple(args) or None)
            return cursor
        except BaseException:
            await cursor.close()
            raise

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it matched (CLIENT.FOUND_ROWS)."""
        cursor = await self._run(sql, args)
        count: int = cursor.rowcount
        await cursor.close()
        return count

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, skip_known: bool = False
    ) -> None:
        """Insert many rows: aiomysql's executemany sends an INSERT as one multi-row statement (an
        ON DUPLICATE KEY clause too, which `skip_known` adds: not INSERT IGNORE, which would turn
        other errors into warnings)."""
        marks = ", ".join("%s" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        if skip_known:
            sql += " ON DUPLICATE KEY UPDATE id = id"
        cursor = await self._conn.cursor()
        try:
            async with asyncio.timeout(self._timeout):
                await cursor.executemany(sql, [tuple(row) for row in rows])
        finally:
            await cursor.close()

    async def fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""
        cursor = await self._run(sql, args)
        rows = [tuple(row) for row in await cursor.fetchall()]
        await cursor.close()
        return rows


@every_operation_retried
class MySQLRepository(SQLRepository):
    """Repository on a MySQL 8 / MariaDB 10.11 database through an aiomysql pool."""

    _SCHEMA_RESOURCE = "schema_mysql.sql"
    _TABLE_EXISTS = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
    )
    _COLUMN_EXISTS = (
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?"
    )
    _VERSION_3_COLUMNS = MYSQL_VERSION_3_COLUMNS
    _VERSION_4_STATEMENTS = MYSQL_VERSION_4_STATEMENTS
    _VERSION_5_STATEMENTS = MYSQL_VERSION_5_STATEMENTS
    _ROW_VALUES = False

    def _hint(self, index: str) -> str:
        return f" FORCE INDEX ({index})" if index else ""

    def __init__(
        self,
        hosts: Sequence[tuple[str, int]],
        user: str,
        password: str,
        db: str,
        timeout: float,
        sync_reads: bool = True,
    ) -> None:
        self.hosts = list(hosts)
        """The servers, in order of preference: one plain server, or the nodes of a Galera cluster."""
        self.host, self.port = self.hosts[0]
        """The server connected to now (the first one until a connection is made)."""
        self.user, self.db = user, db
        self.where = f"MySQL database {db} on {','.join(f'{h}:{p}' for h, p in self.hosts)}"
        self._password = password
        self.timeout = timeout
        self._sync_reads = sync_reads
        self._pool: Any = None
        self._lock = asyncio.Lock()

    @property
    def cluster(self) -> bool:
        """True with several hosts: nodes are health-checked, writes retried on conflicts and failover."""
        return len(self.hosts) > 1

    async def connect(self) -> None:
        """Create the pool now (otherwise done on first use); idempotent."""
        await self._get_pool()

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    problems = []
                    for host, port in self.hosts:
                        try:
                            self._pool = await self._open_pool(host, port)
                        except StorageUnavailable as exc:
                            problems.append(str(exc))
                            continue
                        self.host, self.port = host, port
                        if problems:
                            log.warning("database nodes skipped", node=f"{host}:{port}", skipped=problems)
                        break
                    else:
                        raise StorageUnavailable("; ".join(problems))
        return self._pool

    async def _open_pool(self, host: str, port: int) -> Any:
        """A pool on one server; of a cluster's node only when it is ready and synced."""
        # Galera: wait for the node to have applied what the cluster committed before each read,
        # so a command that writes then reads (after a failover too) sees its own write.
        sync = ", wsrep_sync_wait = 1" if self.cluster and self._sync_reads else ""
        try:
            async with asyncio.timeout(self.timeout * 2):
                pool = await aiomysql.create_pool(
                    minsize=1,
                    maxsize=POOL_MAX,
                    pool_recycle=POOL_RECYCLE,
                    host=host,
                    port=port,
                    user=self.user,
                    password=self._password,
                    db=self.db,
                    charset="utf8mb4",
                    autocommit=True,
                    connect_timeout=self.timeout,
                    init_command=f"SET time_zone = '+00:00'{sync}",
                    client_flag=CLIENT.FOUND_ROWS,
                )
                if self.cluster:
                    problem = await _node_problem(pool)
                    if problem is not None:
                        pool.close()
                        await pool.wait_closed()
                        raise StorageUnavailable(f"{host}:{port} is not usable: {problem}")
        except (pymysql.err.MySQLError, OSError, TimeoutError) as exc:
            detail = _translate(exc, self.timeout, self.where)
            raise StorageUnavailable(f"cannot connect to MySQL {host}:{port}/{self.db}: {detail}") from None
        return pool

    async def _drop_pool(self) -> None:
        """Forget the pool of a node that failed: the next query connects to the first usable one."""
        async with self._lock:
            if self._pool is not None:
                pool, self._pool = self._pool, None
                pool.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pool.wait_closed(), self.timeout)

    async def close(self) -> None:
        """Close the pool and wait for its connections to close; idempotent."""
        async with self._lock:
            if self._pool is not None:
                pool, self._pool = self._pool, None
                pool.close()
                await pool.wait_closed()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = await self._get_pool()
        try:
            async with asyncio.timeout(self.timeout):
                conn = await pool.acquire()
        except (pymysql.err.MySQLError, *_DRIVER_ERRORS) as exc:
            # A pool whose idle connections died with their node opens a new one here: on a
            # cluster that is a failed node too, to leave for the next one.
            raise await self._failed(exc, committing=False) from None
        try:
            yield conn
        except BaseException:
            # The connection may be mid-reply (timeout, cancellation): never reuse it.
            conn.close()
            raise
        finally:
            await pool.release(conn)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Executor]:
        try:
            async with self._connection() as conn:
                yield _MySQLExecutor(conn, self.timeout)
        except (pymysql.err.MySQLError, *_DRIVER_ERRORS) as exc:
            raise await self._failed(exc, committing=False) from None

    @asynccontextmanager
    async def _write(self, bulk: bool = False) -> AsyncIterator[Executor]:
        committing = False
        timeout = BULK_TIMEOUT if bulk else self.timeout
        try:
            async with self._connection() as conn:
                async with asyncio.timeout(self.timeout):
                    await conn.begin()
                yield _MySQLExecutor(conn, timeout)
                committing = True
                async with asyncio.timeout(timeout):
                    await conn.commit()
        except (pymysql.err.MySQLError, *_DRIVER_ERRORS) as exc:
            # The connection was closed on the way out: the server rolls the transaction back.
            raise await self._failed(exc, committing) from None

    async def _failed(self, exc: BaseException, committing: bool) -> Exception:
        """The exception for a failed statement; on a cluster, a conflict or a lost node is one the
        caller may run again (`Retry`), unless the node was lost while committing."""
        error = _translate(exc, self.timeout, self.where)
        if not self.cluster or not isinstance(error, StorageUnavailable):
            return error
        code = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) and exc.args else None
        if code in _ER_CONFLICT:
            return Retry(f"write conflict on {self.host}:{self.port}: {error}")
        # A node is lost when the connection is (no server error code), or the server says it left
        # the cluster or went away; any other error (a privilege, say) is the statement's own.
        lost = code in _ER_NOT_READY or code in _ER_LOST or not isinstance(exc, pymysql.err.MySQLError)
        if lost or isinstance(exc, pymysql.err.InterfaceError):
            await self._drop_pool()
            if committing:
                return StorageUnavailable(
                    f"database node {self.host}:{self.port} went away during a commit: the change may or"
                    " may not have been stored; look before doing it again"
                )
            return Retry(f"database node {self.host}:{self.port} failed: {error}")
        return error

    async def _set_actor(self, db: Executor, actor: str | None) -> None:
        # A session variable: each pooled connection has its own, and it is set back to NULL
        # before the connection returns to the pool (a failed write closes the connection).
        await db.execute("SET @did_failover_actor = ?", (actor,))

    def _ts(self, moment: datetime) -> Any:
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment


async def _node_problem(pool: Any) -> str | None:
    """Why a Galera node cannot take queries (not ready, not synced), None when it can (or when the
    server is no cluster node at all)."""
    conn = await pool.acquire()
    try:
        cursor = await conn.cursor()
        await cursor.execute("SELECT @@wsrep_on")
        (wsrep_on,) = await cursor.fetchone()
        if not wsrep_on:
            return None
        await cursor.execute("SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state')")
        status = {name.lower(): value for name, value in await cursor.fetchall()}
        await cursor.close()
    finally:
        await pool.release(conn)
    if status.get("wsrep_ready") != "ON":
        return "wsrep_ready is OFF"
    if status.get("wsrep_local_state") != "4":
        return f"wsrep_local_state is {status.get('wsrep_local_state')}, not 4 (Synced)"
    return None
