"""The SQL both back ends share: written once with `?` placeholders over a tiny executor interface.

Longer than our other modules on purpose: it is every statement the program runs, and keeping them
together is what lets each be written once and read side by side with the schema.
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
from importlib import resources
from operator import attrgetter
from typing import Any, ParamSpec, TypeVar, cast

from did_failover.errors import InputError, StorageUnavailable
from did_failover.numbers import strip_plus
from did_failover.storage.base import (
    DEFAULT_CALLER_ID,
    DEFAULT_TRANSFER_TIMEOUT,
    LOGIN_TOKEN,
    SCHEMA_VERSION,
    AccountRow,
    AccountType,
    CallRecord,
    ChangeAction,
    ChangeRow,
    ChangeSubject,
    DIDRoute,
    DIDRow,
    Repository,
    Role,
    SessionRow,
    TokenRow,
    TransferRow,
    UserRow,
    current_actor,
    schema_problem,
)

Row = tuple[Any, ...]

_ACCOUNT = """SELECT a.number, a.name, a.type, r.number, a.active, a.transfer_enabled,
 a.created_at, a.updated_at
 FROM accounts a LEFT JOIN accounts r ON r.id = a.reseller_id"""

_DID = """SELECT d.number, a.number, d.active, d.primary_destination, d.ring_timeout,
 d.max_channels, d.created_at, d.updated_at
 FROM dids d JOIN accounts a ON a.id = d.account_id
 LEFT JOIN accounts r ON r.id = a.reseller_id"""

_TRANSFER = """SELECT d.number, t.enabled, t.always_destination, t.busy_destination,
 t.no_answer_destination, t.unavailable_destination, t.timeout, t.caller_id, t.updated_by,
 t.updated_at, t.after_hours_destination, t.schedule
 FROM did_transfers t JOIN dids d ON d.id = t.did_id JOIN accounts a ON a.id = d.account_id
 LEFT JOIN accounts r ON r.id = a.reseller_id"""

_ROUTE = """SELECT d.number, d.active, a.number, a.active, a.transfer_enabled,
 d.primary_destination, d.ring_timeout, d.max_channels, t.enabled, t.always_destination,
 t.busy_destination, t.no_answer_destination, t.unavailable_destination, t.timeout, t.caller_id,
 t.after_hours_destination, t.schedule
 FROM dids d JOIN accounts a ON a.id = d.account_id
 LEFT JOIN did_transfers t ON t.did_id = d.id
 WHERE d.number = ?"""

_CHANGE = """SELECT c.id, c.changed_at, c.actor, c.action, c.subject, c.account, c.did, c.field,
 c.old_value, c.new_value, c.username FROM change_log c"""

_TOKENS = """SELECT k.id, u.username, k.name, k.created_at, k.expires_at
 FROM api_tokens k JOIN users u ON u.id = k.user_id"""

_PAGE_COLUMNS = {
    "did": "d.number",
    "account": "a.number",
    "busy": "t.busy_destination",
    "no_answer": "t.no_answer_destination",
    "unavailable": "t.unavailable_destination",
    "always": "t.always_destination",
    "did_type": "d.primary_destination",
    "number": "d.primary_destination",
    "status": "t.enabled",
}

_USER = """SELECT u.username, u.role, a.number, u.active, u.password_hash, u.created_at, u.updated_at
 FROM users u LEFT JOIN accounts a ON a.id = u.account_id"""

_CALL_COLUMNS = (
    "started_at",
    "did",
    "account_number",
    "caller",
    "primary_destination",
    "primary_dialstatus",
    "transfer_condition",
    "transfer_destination",
    "transfer_dialstatus",
    "result",
    "leg",
    "answered_at",
    "ended_at",
    "hangup_cause",
    "billsec",
    "uniqueid",
    "legs",
)
_call_values = attrgetter(*_CALL_COLUMNS)
_CALL_TIMES = tuple(i for i, name in enumerate(_CALL_COLUMNS) if name.endswith("_at"))
_CALL_CHUNK = 100
"""Call-history rows converted and sent per statement."""

NO_SCHEMA = "the database has no did-failover schema: run 'did-failover db init'"

ATTEMPTS = 5
"""How often an operation runs at most when it fails with Retry."""

RETRIES: collections.Counter[str] = collections.Counter()
"""Operations run again after a Retry, by operation name, in this process (tests and figures)."""

P = ParamSpec("P")
T = TypeVar("T")


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


def read_schema(resource: str) -> list[str]:
    """The statements of a packaged .sql file, comments dropped, split on the closing `;`."""
    text = resources.files("did_failover.storage").joinpath(resource).read_text(encoding="utf-8")
    return split_statements(text)


def split_statements(text: str) -> list[str]:
    """SQL statements of a schema file: each ends with `;` at the end of a line, except that a
    trigger body (SQLite's BEGIN ... END) runs to its `END;` line. `--` comment lines are dropped."""
    statements: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("--") or not (current or line.strip()):
            continue
        current.append(line)
        if not line.rstrip().endswith(";"):
            continue
        trigger = current[0].lstrip().upper().startswith("CREATE TRIGGER")
        if trigger and "BEGIN" in (s.strip() for s in current) and line.strip() != "END;":
            continue
        statements.append("\n".join(current).strip().removesuffix(";").strip())
        current = []
    if any(line.strip() for line in current):
        statements.append("\n".join(current).strip())
    return statements


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
    async def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows in as few statements as the driver allows."""

    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        """Run one query and return its first row, None when empty."""
        rows = await self.fetch_all(sql, args)
        return rows[0] if rows else None


class SQLRepository(Repository):
    """Repository written once over an Executor; the back ends supply connections and dialect."""

    _SCHEMA_RESOURCE: str
    _TABLE_EXISTS: str
    _COLUMN_EXISTS: str
    """A row when table (first argument) has column (second)."""
    _VERSION_3_COLUMNS: tuple[tuple[str, str, str], ...]
    """(table, column, statement that adds it): what turns a version 1 or 2 schema into 3."""
    _VERSION_4_STATEMENTS: tuple[tuple[str, str], ...] = ()
    """(table, statement): column changes (idempotent) that turn a schema older than 4 into 4, where
    the table exists (the schema file creates a missing one as it is in 4)."""

    @abc.abstractmethod
    def _read(self) -> AbstractAsyncContextManager[Executor]:
        """An executor for reads (autocommit)."""

    @abc.abstractmethod
    def _write(self) -> AbstractAsyncContextManager[Executor]:
        """An executor inside one transaction: committed on success, rolled back on error."""

    @abc.abstractmethod
    async def _set_actor(self, db: Executor, actor: str | None) -> None:
        """Tell the change-log triggers who writes in this transaction (None: nobody any more)."""

    @asynccontextmanager
    async def _change(self) -> AsyncIterator[Executor]:
        """A write transaction whose changes the triggers record as `current_actor()`'s."""
        async with self._write() as db:
            await self._set_actor(db, current_actor())
            yield db
            await self._set_actor(db, None)

    @abc.abstractmethod
    def _ts(self, moment: datetime) -> Any:
        """A timestamp as the driver wants it in a parameter."""

    def _now(self) -> Any:
        return self._ts(datetime.now(UTC).replace(microsecond=0))

    async def schema_version(self) -> int | None:
        """The database's schema version, None when the schema was never created."""
        async with self._read() as db:
            if await db.fetch_one(self._TABLE_EXISTS, ("schema_version",)) is None:
                return None
            row = await db.fetch_one("SELECT version FROM schema_version WHERE id = 1")
        return None if row is None else int(row[0])

    async def init_schema(self) -> int:
        """Create the schema idempotently and return its version; refuse a newer database."""
        version = await self.schema_version()
        if version is not None and version > SCHEMA_VERSION:
            raise StorageUnavailable(schema_problem(version) or "")
        async with self._write() as db:
            if version is not None and version < 3:
                for table, column, statement in self._VERSION_3_COLUMNS:
                    if await db.fetch_one(self._COLUMN_EXISTS, (table, column)) is None:
                        await db.execute(statement)
            if version is not None and version < 4:
                for table, statement in self._VERSION_4_STATEMENTS:
                    if await db.fetch_one(self._TABLE_EXISTS, (table,)) is not None:
                        await db.execute(statement)
            for statement in read_schema(self._SCHEMA_RESOURCE):
                await db.execute(statement)
        return await self.schema_version() or 0

    async def get_route(self, did: str) -> DIDRoute | None:
        """The routing data of one DID (hot path: one query), None when unknown."""
        async with self._read() as db:
            row = await db.fetch_one(_ROUTE, (strip_plus(did),))
        if row is None:
            return None
        has_transfer = row[8] is not None
        return DIDRoute(
            did=row[0],
            did_active=bool(row[1]),
            account_number=row[2],
            account_active=bool(row[3]),
            account_transfer=bool(row[4]),
            primary=row[5],
            ring_timeout=int(row[6]),
            max_channels=int(row[7]),
            transfer_enabled=bool(row[8]) if has_transfer else False,  # nothing to transfer to
            always=row[9],
            busy=row[10],
            no_answer=row[11],
            unavailable=row[12],
            transfer_timeout=int(row[13]) if has_transfer else DEFAULT_TRANSFER_TIMEOUT,
            caller_id=row[14] if has_transfer else DEFAULT_CALLER_ID,
            after_hours=row[15],
            schedule=row[16],
        )

    @staticmethod
    def _account(row: Row) -> AccountRow:
        return AccountRow(
            number=row[0],
            name=row[1],
            type=cast(AccountType, row[2]),
            reseller=row[3],
            active=bool(row[4]),
            transfer_enabled=bool(row[5]),
            created_at=_dt(row[6]),
            updated_at=_dt(row[7]),
        )

    async def get_account(self, number: str) -> AccountRow | None:
        """One account by number."""
        async with self._read() as db:
            row = await db.fetch_one(f"{_ACCOUNT} WHERE a.number = ?", (number,))
        return None if row is None else self._account(row)

    async def list_accounts(self, reseller: str | None = None) -> list[AccountRow]:
        """Every account, or only the customers of `reseller`, ordered by number."""
        async with self._read() as db:
            if reseller is None:
                rows = await db.fetch_all(f"{_ACCOUNT} ORDER BY a.number")
            else:
                rows = await db.fetch_all(f"{_ACCOUNT} WHERE r.number = ? ORDER BY a.number", (reseller,))
        return [self._account(row) for row in rows]

    async def add_account(
        self, number: str, name: str, type: AccountType, reseller: str | None
    ) -> AccountRow:
        """Create an account (active, transfer on)."""
        now = self._now()
        async with self._change() as db:
            reseller_id = None
            if reseller is not None:
                found = await db.fetch_one("SELECT id FROM accounts WHERE number = ?", (reseller,))
                if found is None:
                    raise InputError(f"account {reseller} not found")
                reseller_id = found[0]
            await db.execute(
                "INSERT INTO accounts (number, name, type, reseller_id, active, transfer_enabled,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 1, 1, ?, ?)",
                (number, name, type, reseller_id, now, now),
            )
        return await self._must_account(number)

    async def _must_account(self, number: str) -> AccountRow:
        account = await self.get_account(number)
        if account is None:
            raise InputError(f"account {number} not found")
        return account

    async def update_account(
        self,
        number: str,
        *,
        name: str | None = None,
        active: bool | None = None,
        transfer_enabled: bool | None = None,
    ) -> AccountRow:
        """Change the given fields of an account."""
        changes = {"name": name, "active": active, "transfer_enabled": transfer_enabled}
        await self._update("accounts", changes, number, f"account {number} not found")
        return await self._must_account(number)

    async def _update(self, table: str, changes: dict[str, Any], number: str, missing: str) -> None:
        """UPDATE the non-None `changes` (column names from code, never from input) of one row."""
        sets = {column: value for column, value in changes.items() if value is not None}
        sets["updated_at"] = self._now()
        assignments = ", ".join(f"{column} = ?" for column in sets)
        async with self._change() as db:
            matched = await db.execute(
                f"UPDATE {table} SET {assignments} WHERE number = ?", (*sets.values(), number)
            )
            if matched == 0:
                raise InputError(missing)

    @staticmethod
    def _did(row: Row) -> DIDRow:
        return DIDRow(
            number=row[0],
            account=row[1],
            active=bool(row[2]),
            primary=row[3],
            ring_timeout=int(row[4]),
            max_channels=int(row[5]),
            created_at=_dt(row[6]),
            updated_at=_dt(row[7]),
        )

    async def get_did(self, did: str) -> DIDRow | None:
        """One DID by number."""
        async with self._read() as db:
            row = await db.fetch_one(f"{_DID} WHERE d.number = ?", (strip_plus(did),))
        return None if row is None else self._did(row)

    async def _must_did(self, did: str) -> DIDRow:
        row = await self.get_did(did)
        if row is None:
            raise InputError(f"DID {strip_plus(did)} not found")
        return row

    async def list_dids(self, account: str | None = None, reseller: str | None = None) -> list[DIDRow]:
        """DIDs, optionally only one account's or one reseller's customers', ordered by number."""
        where, args = [], []
        if account is not None:
            where.append("a.number = ?")
            args.append(account)
        if reseller is not None:
            where.append("r.number = ?")
            args.append(reseller)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        async with self._read() as db:
            rows = await db.fetch_all(f"{_DID}{clause} ORDER BY d.number", args)
        return [self._did(row) for row in rows]

    async def add_did(
        self, did: str, account: str, primary: str, ring_timeout: int, max_channels: int
    ) -> DIDRow:
        """Create a DID (active, no transfer settings)."""
        now = self._now()
        async with self._change() as db:
            inserted = await db.execute(
                "INSERT INTO dids (number, account_id, active, primary_destination, ring_timeout,"
                " max_channels, created_at, updated_at)"
                " SELECT ?, id, 1, ?, ?, ?, ?, ? FROM accounts WHERE number = ?",
                (strip_plus(did), primary, ring_timeout, max_channels, now, now, account),
            )
            if inserted == 0:
                raise InputError(f"account {account} not found")
        return await self._must_did(did)

    async def update_did(
        self,
        did: str,
        *,
        account: str | None = None,
        primary: str | None = None,
        ring_timeout: int | None = None,
        max_channels: int | None = None,
        active: bool | None = None,
    ) -> DIDRow:
        """Change the given fields of a DID."""
        account_id = None
        if account is not None:
            async with self._read() as db:
                found = await db.fetch_one("SELECT id FROM accounts WHERE number = ?", (account,))
            if found is None:
                raise InputError(f"account {account} not found")
            account_id = found[0]
        changes = {
            "account_id": account_id,
            "primary_destination": primary,
            "ring_timeout": ring_timeout,
            "max_channels": max_channels,
            "active": active,
        }
        number = strip_plus(did)
        await self._update("dids", changes, number, f"DID {number} not found")
        return await self._must_did(number)

    async def remove_did(self, did: str) -> bool:
        """Delete a DID and its transfer settings; False when it did not exist."""
        async with self._change() as db:
            # Explicit, so that no orphan survives even where ON DELETE CASCADE is not enforced,
            # and so that the triggers record the settings removed (MySQL's cascade fires none).
            await db.execute(
                "DELETE FROM did_transfers WHERE did_id IN (SELECT id FROM dids WHERE number = ?)",
                (strip_plus(did),),
            )
            return await db.execute("DELETE FROM dids WHERE number = ?", (strip_plus(did),)) > 0

    @staticmethod
    def _transfer(row: Row) -> TransferRow:
        return TransferRow(
            did=row[0],
            enabled=bool(row[1]),
            always=row[2],
            busy=row[3],
            no_answer=row[4],
            unavailable=row[5],
            timeout=int(row[6]),
            caller_id=row[7],
            updated_by=row[8],
            updated_at=_dt(row[9]),
            after_hours=row[10],
            schedule=row[11],
        )

    async def get_transfer(self, did: str) -> TransferRow | None:
        """The transfer settings of one DID, None when it has none."""
        async with self._read() as db:
            row = await db.fetch_one(f"{_TRANSFER} WHERE d.number = ?", (strip_plus(did),))
        return None if row is None else self._transfer(row)

    async def list_transfers(self, reseller: str | None = None) -> list[TransferRow]:
        """Every transfer-settings row, or only those of `reseller`'s customers' DIDs."""
        async with self._read() as db:
            if reseller is None:
                rows = await db.fetch_all(f"{_TRANSFER} ORDER BY d.number")
            else:
                rows = await db.fetch_all(f"{_TRANSFER} WHERE r.number = ? ORDER BY d.number", (reseller,))
        return [self._transfer(row) for row in rows]

    async def set_transfers(self, rows: Sequence[TransferRow]) -> None:
        """Create or replace the transfer settings of every row's DID, all or nothing."""
        now = self._now()
        async with self._change() as db:
            for row in rows:
                found = await db.fetch_one("SELECT id FROM dids WHERE number = ?", (strip_plus(row.did),))
                if found is None:
                    raise InputError(f"DID {strip_plus(row.did)} not found")
                values = (
                    row.enabled,
                    row.always,
                    row.busy,
                    row.no_answer,
                    row.unavailable,
                    row.after_hours,
                    row.schedule,
                    row.timeout,
                    row.caller_id,
                    row.updated_by,
                    now,
                    found[0],
                )
                # UPDATE in place (not DELETE + INSERT): the change log then holds only the
                # fields that changed.
                updated = await db.execute(
                    "UPDATE did_transfers SET enabled = ?, always_destination = ?,"
                    " busy_destination = ?, no_answer_destination = ?, unavailable_destination = ?,"
                    " after_hours_destination = ?, schedule = ?,"
                    " timeout = ?, caller_id = ?, updated_by = ?, updated_at = ? WHERE did_id = ?",
                    values,
                )
                if updated == 0:
                    await db.execute(
                        "INSERT INTO did_transfers (enabled, always_destination, busy_destination,"
                        " no_answer_destination, unavailable_destination, after_hours_destination,"
                        " schedule, timeout, caller_id, updated_by, updated_at, did_id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        values,
                    )

    async def insert_calls(self, rows: Sequence[CallRecord]) -> None:
        """Append routed calls to the call log in one transaction."""
        if not rows:
            return
        ts = self._ts
        async with self._write() as db:
            # Rows are turned into parameters a chunk at a time, with the event loop free between
            # chunks: a second's worth of calls at once held up new calls' first Dial by ~20 ms.
            for start in range(0, len(rows), _CALL_CHUNK):
                values = []
                for row in rows[start : start + _CALL_CHUNK]:
                    value = list(_call_values(row))
                    for i in _CALL_TIMES:
                        if value[i] is not None:
                            value[i] = ts(value[i])
                    values.append(value)
                await db.insert_rows("call_log", _CALL_COLUMNS, values)

    async def list_calls(
        self,
        *,
        did: str | None = None,
        account: str | None = None,
        reseller: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[CallRecord]:
        """Call history, newest first; `reseller` keeps only that reseller's customers' calls."""
        clause, args = self._log_filters("account_number", "started_at", did, account, reseller, since)
        columns = ", ".join(f"c.{column}" for column in _CALL_COLUMNS)
        sql = f"SELECT {columns} FROM call_log c{clause} ORDER BY c.started_at DESC, c.id DESC LIMIT ?"
        async with self._read() as db:
            rows = await db.fetch_all(sql, (*args, int(limit)))
        return [self._call(row) for row in rows]

    def _log_filters(
        self,
        account_column: str,
        time_column: str,
        did: str | None,
        account: str | None,
        reseller: str | None,
        since: datetime | None,
    ) -> tuple[str, list[Any]]:
        """The WHERE clause (or "") and its arguments shared by the call history and the change log
        (table alias c; column names from code, never from input)."""
        where: list[str] = []
        args: list[Any] = []
        if did is not None:
            where.append("c.did = ?")
            args.append(strip_plus(did))
        if account is not None:
            where.append(f"c.{account_column} = ?")
            args.append(account)
        if reseller is not None:
            where.append(
                f"c.{account_column} IN (SELECT a.number FROM accounts a JOIN accounts r"
                " ON a.reseller_id = r.id WHERE r.number = ?)"
            )
            args.append(reseller)
        if since is not None:
            where.append(f"c.{time_column} >= ?")
            args.append(self._ts(since))
        return (f" WHERE {' AND '.join(where)}" if where else ""), args

    @staticmethod
    def _call(row: Row) -> CallRecord:
        values = dict(zip(_CALL_COLUMNS, row, strict=True))
        for column in ("started_at", "answered_at", "ended_at"):
            if values[column] is not None:
                values[column] = _dt(values[column])
        return CallRecord(**values)

    async def delete_calls_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` of the oldest calls started before `cutoff`; return how many."""
        return await self._delete_oldest("call_log", "started_at", cutoff, limit)

    async def list_changes(
        self,
        *,
        did: str | None = None,
        account: str | None = None,
        reseller: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[ChangeRow]:
        """The change log, newest first; `reseller` keeps only that reseller's customers' changes."""
        clause, args = self._log_filters("account", "changed_at", did, account, reseller, since)
        if actor is not None:
            clause += f"{' AND' if clause else ' WHERE'} c.actor = ?"
            args.append(actor)
        async with self._read() as db:
            rows = await db.fetch_all(f"{_CHANGE}{clause} ORDER BY c.id DESC LIMIT ?", (*args, int(limit)))
        return [self._change_row(row) for row in rows]

    @staticmethod
    def _change_row(row: Row) -> ChangeRow:
        return ChangeRow(
            id=int(row[0]),
            changed_at=_dt(row[1]),
            actor=row[2],
            action=cast(ChangeAction, row[3]),
            subject=cast(ChangeSubject, row[4]),
            account=row[5],
            did=row[6],
            field=row[7],
            old=row[8],
            new=row[9],
            username=row[10],
        )

    async def last_change_id(self) -> int:
        """The id of the newest change-log row, 0 when there is none (one indexed lookup)."""
        async with self._read() as db:
            row = await db.fetch_one("SELECT MAX(id) FROM change_log")
        return 0 if row is None or row[0] is None else int(row[0])

    async def changes_after(self, after: int, also: Sequence[int] = (), limit: int = 1000) -> list[ChangeRow]:
        """Change-log rows with an id above `after` or in `also`, oldest first, at most `limit`."""
        clause = "c.id > ?"
        if also:
            clause += f" OR c.id IN ({', '.join('?' for _ in also)})"
        async with self._read() as db:
            rows = await db.fetch_all(
                f"{_CHANGE} WHERE {clause} ORDER BY c.id LIMIT ?", (int(after), *also, int(limit))
            )
        return [self._change_row(row) for row in rows]

    async def delete_changes_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` of the oldest changes made before `cutoff`; return how many."""
        return await self._delete_oldest("change_log", "changed_at", cutoff, limit)

    async def _delete_oldest(self, table: str, column: str, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` rows of `table` whose `column` is before `cutoff`, oldest id first."""
        async with self._write() as db:
            ids = [
                row[0]
                for row in await db.fetch_all(
                    f"SELECT id FROM {table} WHERE {column} < ? ORDER BY id LIMIT ?",
                    (self._ts(cutoff), int(limit)),
                )
            ]
            if not ids:
                return 0
            marks = ", ".join("?" for _ in ids)
            return await db.execute(f"DELETE FROM {table} WHERE id IN ({marks})", ids)

    # Pages of DIDs (the web's "DIDs Call Transfer" grid)

    async def page_dids(
        self,
        *,
        reseller: str | None = None,
        account: str | None = None,
        search: str = "",
        order: str = "did",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[tuple[DIDRow, AccountRow, TransferRow | None]], int]:
        """One page of DIDs with their account and transfer settings, and how many match in all."""
        column = _PAGE_COLUMNS[order]  # KeyError for anything else: the column never comes from input
        # The accounts in scope are looked up first; the page is then read from dids alone, in the
        # order of the column sorted by (`account_id + 0`: the filter must not steer the planner
        # away from the index that gives that order), joined only to that column's table.
        async with self._read() as db:
            owners: list[Any] | None = None
            if reseller is not None:
                owners = [
                    row[0]
                    for row in await db.fetch_all(
                        "SELECT c.id FROM accounts c JOIN accounts r ON r.id = c.reseller_id"
                        " WHERE r.number = ?",
                        (reseller,),
                    )
                ]
            if account is not None:
                found = await db.fetch_one("SELECT id FROM accounts WHERE number = ?", (account,))
                owners = [found[0]] if found is not None and (owners is None or found[0] in owners) else []
        if owners is not None and not owners:
            return [], 0
        filters: list[str] = []
        args: list[Any] = list(owners or [])
        if search:
            # "!" escapes LIKE's wildcards: a backslash would mean something else in MySQL's literals.
            pattern = "%" + search.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
            filters.append(
                "(d.number LIKE ? ESCAPE '!' OR d.account_id IN"
                " (SELECT c.id FROM accounts c WHERE c.number LIKE ? ESCAPE '!'))"
            )
            args.extend([pattern, pattern])

        def where(account: str) -> str:
            """The WHERE clause, the owners' filter on `account` (the count may use the index)."""
            owned = [f"{account} IN ({', '.join('?' for _ in owners)})"] if owners is not None else []
            every = owned + filters
            return f" WHERE {' AND '.join(every)}" if every else ""

        counted, clause = where("d.account_id"), where("d.account_id + 0")
        join = {
            "a": " JOIN accounts a ON a.id = d.account_id",
            "t": " LEFT JOIN did_transfers t ON t.did_id = d.id",
        }
        tables = "FROM dids d" + join.get(column[0], "")
        direction = "DESC" if descending else "ASC"
        async with self._read() as db:
            total_row = await db.fetch_one(f"SELECT COUNT(*) FROM dids d{counted}", args)
            numbers = [
                row[0]
                for row in await db.fetch_all(
                    f"SELECT d.number {tables}{clause} ORDER BY {column} {direction}, d.number {direction}"
                    " LIMIT ? OFFSET ?",
                    (*args, int(limit), int(offset)),
                )
            ]
            if not numbers:
                return [], int(total_row[0]) if total_row else 0
            marks = ", ".join("?" for _ in numbers)
            dids = {
                r[0]: self._did(r) for r in await db.fetch_all(f"{_DID} WHERE d.number IN ({marks})", numbers)
            }
            transfers = {
                r[0]: self._transfer(r)
                for r in await db.fetch_all(f"{_TRANSFER} WHERE d.number IN ({marks})", numbers)
            }
            owners = sorted({d.account for d in dids.values()})
            account_marks = ", ".join("?" for _ in owners)
            accounts = {
                r[0]: self._account(r)
                for r in await db.fetch_all(f"{_ACCOUNT} WHERE a.number IN ({account_marks})", owners)
            }
        rows = [(dids[n], accounts[dids[n].account], transfers.get(n)) for n in numbers if n in dids]
        return rows, int(total_row[0]) if total_row else 0

    # Web users and sessions

    @staticmethod
    def _user(row: Row) -> UserRow:
        return UserRow(
            username=row[0],
            role=cast(Role, row[1]),
            account=row[2],
            active=bool(row[3]),
            password_hash=row[4],
            created_at=_dt(row[5]),
            updated_at=_dt(row[6]),
        )

    async def get_user(self, username: str) -> UserRow | None:
        """One user by name."""
        async with self._read() as db:
            row = await db.fetch_one(f"{_USER} WHERE u.username = ?", (username,))
        return None if row is None else self._user(row)

    async def list_users(self, reseller: str | None = None) -> list[UserRow]:
        """Every user, or only those of `reseller` itself and of its customers, ordered by name."""
        async with self._read() as db:
            if reseller is None:
                rows = await db.fetch_all(f"{_USER} ORDER BY u.username")
            else:
                rows = await db.fetch_all(
                    f"{_USER} LEFT JOIN accounts r ON r.id = a.reseller_id"
                    " WHERE a.number = ? OR r.number = ? ORDER BY u.username",
                    (reseller, reseller),
                )
        return [self._user(row) for row in rows]

    async def add_user(self, username: str, role: Role, account: str | None, password_hash: str) -> UserRow:
        """Create an active user."""
        now = self._now()
        async with self._change() as db:
            account_id = None
            if account is not None:
                found = await db.fetch_one("SELECT id FROM accounts WHERE number = ?", (account,))
                if found is None:
                    raise InputError(f"account {account} not found")
                account_id = found[0]
            await db.execute(
                "INSERT INTO users (username, role, account_id, password_hash, active, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
                (username, role, account_id, password_hash, now, now),
            )
        user = await self.get_user(username)
        if user is None:
            raise InputError(f"user {username} not found")
        return user

    async def update_user(
        self, username: str, *, password_hash: str | None = None, active: bool | None = None
    ) -> UserRow:
        """Change a user's password or status; either ends every session of that user, a new
        password also every token taken with the old one (`POST /api/v1/tokens`)."""
        sets: dict[str, Any] = {"password_hash": password_hash, "active": active}
        sets = {column: value for column, value in sets.items() if value is not None}
        sets["updated_at"] = self._now()
        assignments = ", ".join(f"{column} = ?" for column in sets)
        async with self._change() as db:
            if (
                await db.execute(
                    f"UPDATE users SET {assignments} WHERE username = ?", (*sets.values(), username)
                )
                == 0
            ):
                raise InputError(f"user {username} not found")
            await db.execute(
                "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE username = ?)",
                (username,),
            )
            if password_hash is not None:  # what the old password let in: sessions and login tokens
                await db.execute(
                    "DELETE FROM api_tokens WHERE name = ? AND user_id IN"
                    " (SELECT id FROM users WHERE username = ?)",
                    (LOGIN_TOKEN, username),
                )
        user = await self.get_user(username)
        if user is None:
            raise InputError(f"user {username} not found")
        return user

    async def remove_user(self, username: str) -> bool:
        """Delete a user, every session and every API token of theirs; False when there was none."""
        async with self._change() as db:
            for table in ("web_sessions", "api_tokens"):
                await db.execute(
                    f"DELETE FROM {table} WHERE user_id IN (SELECT id FROM users WHERE username = ?)",
                    (username,),
                )
            return await db.execute("DELETE FROM users WHERE username = ?", (username,)) > 0

    async def login_failures(
        self, buckets: Sequence[str], since: datetime
    ) -> dict[str, tuple[int, datetime]]:
        """Per bucket that has any, the failed logins since `since`: how many, and the oldest's time."""
        marks = ", ".join("?" for _ in buckets)
        async with self._read() as db:
            rows = await db.fetch_all(
                "SELECT bucket, COUNT(*), MIN(failed_at) FROM login_failures"
                f" WHERE bucket IN ({marks}) AND failed_at >= ? GROUP BY bucket",
                (*buckets, self._ts(since)),
            )
        return {row[0]: (int(row[1]), _dt(row[2])) for row in rows}

    async def add_login_failure(self, buckets: Sequence[str], at: datetime, forget_before: datetime) -> None:
        """Record a failed login at `at` in each bucket, and forget every failure before `forget_before`."""
        async with self._write() as db:
            await db.execute("DELETE FROM login_failures WHERE failed_at < ?", (self._ts(forget_before),))
            for bucket in buckets:
                await db.execute(
                    "INSERT INTO login_failures (bucket, failed_at) VALUES (?, ?)", (bucket, self._ts(at))
                )

    async def add_session(self, key: str, username: str, csrf_token: str) -> None:
        """Store a new session under `key` (the SHA-256 of its token) for an existing user."""
        now = self._ts(datetime.now(UTC))
        async with self._write() as db:
            inserted = await db.execute(
                "INSERT INTO web_sessions (id, user_id, csrf_token, created_at, last_seen_at)"
                " SELECT ?, id, ?, ?, ? FROM users WHERE username = ?",
                (key, csrf_token, now, now, username),
            )
            if inserted == 0:
                raise InputError(f"user {username} not found")

    async def get_session(self, key: str) -> SessionRow | None:
        """The session stored under `key` with its user, None when there is none."""
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT u.username, u.role, a.number, u.active, u.password_hash, u.created_at,"
                " u.updated_at, s.csrf_token, s.created_at, s.last_seen_at"
                " FROM web_sessions s JOIN users u ON u.id = s.user_id"
                " LEFT JOIN accounts a ON a.id = u.account_id WHERE s.id = ?",
                (key,),
            )
        if row is None:
            return None
        return SessionRow(self._user(row[:7]), row[7], _dt(row[8]), _dt(row[9]))

    async def touch_session(self, key: str) -> None:
        """Mark the session as used now (its idle time starts again)."""
        async with self._write() as db:
            await db.execute(
                "UPDATE web_sessions SET last_seen_at = ? WHERE id = ?", (self._ts(datetime.now(UTC)), key)
            )

    async def remove_session(self, key: str) -> None:
        """End one session."""
        async with self._write() as db:
            await db.execute("DELETE FROM web_sessions WHERE id = ?", (key,))

    async def remove_sessions_idle_since(self, cutoff: datetime) -> int:
        """End every session not used since `cutoff`; return how many."""
        async with self._write() as db:
            return await db.execute("DELETE FROM web_sessions WHERE last_seen_at < ?", (self._ts(cutoff),))

    @staticmethod
    def _token(row: Row) -> TokenRow:
        return TokenRow(int(row[0]), row[1], row[2], _dt(row[3]), None if row[4] is None else _dt(row[4]))

    async def add_token(
        self, username: str, name: str, token_hash: str, expires_at: datetime | None
    ) -> TokenRow:
        """Store an API token (by the SHA-256 of it) for an existing user."""
        now = self._now()
        async with self._write() as db:
            inserted = await db.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)"
                " SELECT id, ?, ?, ?, ? FROM users WHERE username = ?",
                (name, token_hash, now, None if expires_at is None else self._ts(expires_at), username),
            )
            if inserted == 0:
                raise InputError(f"user {username} not found")
            row = await db.fetch_one(f"{_TOKENS} WHERE k.token_hash = ?", (token_hash,))
        assert row is not None
        return self._token(row)

    async def token_user(self, token_hash: str) -> tuple[TokenRow, UserRow] | None:
        """The token stored under `token_hash` and its user as they are now, None when there is none."""
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT k.id, u.username, k.name, k.created_at, k.expires_at, u.username, u.role, a.number,"
                " u.active, u.password_hash, u.created_at, u.updated_at"
                " FROM api_tokens k JOIN users u ON u.id = k.user_id"
                " LEFT JOIN accounts a ON a.id = u.account_id"
                " WHERE k.token_hash = ?",
                (token_hash,),
            )
        return None if row is None else (self._token(row[:5]), self._user(row[5:]))

    async def list_tokens(self, username: str | None = None) -> list[TokenRow]:
        """Every token, or one user's, oldest first."""
        async with self._read() as db:
            if username is None:
                rows = await db.fetch_all(f"{_TOKENS} ORDER BY k.id")
            else:
                rows = await db.fetch_all(f"{_TOKENS} WHERE u.username = ? ORDER BY k.id", (username,))
        return [self._token(row) for row in rows]

    async def remove_token(self, token_id: int) -> bool:
        """Delete one token; False when there was none."""
        async with self._write() as db:
            return await db.execute("DELETE FROM api_tokens WHERE id = ?", (int(token_id),)) > 0

    async def web_secret(self, name: str, new_value: str) -> str:
        """The secret stored under `name`, storing `new_value` first when there is none yet."""
        async with self._write() as db:
            row = await db.fetch_one("SELECT value FROM web_secrets WHERE name = ?", (name,))
            if row is None:
                await db.execute("INSERT INTO web_secrets (name, value) VALUES (?, ?)", (name, new_value))
                return new_value
        return str(row[0])
