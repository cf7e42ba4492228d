"""The call history and the change log: appended, filtered by scope, trimmed by age."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

from did_failover.numbers import strip_plus
from did_failover.storage._base import Row, SQLBase, _dt
from did_failover.storage.records import (
    CallRecord,
    ChangeAction,
    ChangeRow,
    ChangeSubject,
    attempts_text,
    parse_attempts,
)

_CHANGE = """SELECT c.id, c.changed_at, c.actor, c.action, c.subject, c.account, c.did, c.field,
 c.old_value, c.new_value, c.username FROM change_log c"""


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
"""The call log's columns; each is the CallRecord field of its name, but for `legs`: `attempts` as text."""

_call_values = attrgetter(*("attempts" if column == "legs" else column for column in _CALL_COLUMNS))
_CALL_TIMES = tuple(i for i, name in enumerate(_CALL_COLUMNS) if name.endswith("_at"))
_ATTEMPTS = _CALL_COLUMNS.index("legs")


_CALL_CHUNK = 100
"""Call-history rows converted and sent per statement."""


class HistoryQueries(SQLBase):
    """The call history and the change log."""

    async def insert_calls(self, rows: Sequence[CallRecord]) -> None:
        """Append routed calls to the call log in one transaction; a call whose row is there already
        (same uniqueid and start: a batch sent again after a commit that was not confirmed) adds none."""
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
                    value[_ATTEMPTS] = attempts_text(value[_ATTEMPTS])
                    values.append(value)
                await db.insert_rows("call_log", _CALL_COLUMNS, values, skip_known=True)

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
        values["attempts"] = parse_attempts(values.pop("legs"))
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
