"""DIDs, their transfer settings and a call's route."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from did_failover.errors import InputError
from did_failover.numbers import strip_plus
from did_failover.storage._accounts import AccountQueries
from did_failover.storage._base import Row, _dt
from did_failover.storage.records import (
    DEFAULT_CALLER_ID,
    DEFAULT_RING_TIMEOUT,
    DEFAULT_TRANSFER_TIMEOUT,
    DIDRoute,
    DIDRow,
    NewDID,
    TransferRow,
)

_DID_COLUMNS = {
    "number": "d.number",
    "account": "a.number",
    "active": "d.active",
    "primary": "d.primary_destination",
    "ring_timeout": "d.ring_timeout",
    "max_channels": "d.max_channels",
    "created_at": "d.created_at",
    "updated_at": "d.updated_at",
}
"""DIDRow's fields and the column each is read from, declared once: the SELECT and the mapping."""
_DID = f"""SELECT {", ".join(_DID_COLUMNS.values())}
 FROM dids d JOIN accounts a ON a.id = d.account_id
 LEFT JOIN accounts r ON r.id = a.reseller_id"""

_TRANSFER_COLUMNS = {
    "did": "d.number",
    "enabled": "t.enabled",
    "always": "t.always_destination",
    "busy": "t.busy_destination",
    "no_answer": "t.no_answer_destination",
    "unavailable": "t.unavailable_destination",
    "transfer_timeout": "t.timeout",
    "caller_id": "t.caller_id",
    "updated_by": "t.updated_by",
    "updated_at": "t.updated_at",
    "after_hours": "t.after_hours_destination",
    "schedule": "t.schedule",
}
"""TransferRow's fields and their columns."""
_TRANSFER = f"""SELECT {", ".join(_TRANSFER_COLUMNS.values())}
 FROM did_transfers t JOIN dids d ON d.id = t.did_id JOIN accounts a ON a.id = d.account_id
 LEFT JOIN accounts r ON r.id = a.reseller_id"""

_ROUTE_COLUMNS = {
    "did": "d.number",
    "did_active": "d.active",
    "account_number": "a.number",
    "account_active": "a.active",
    "account_transfer": "a.transfer_enabled",
    "primary": "d.primary_destination",
    "ring_timeout": "d.ring_timeout",
    "max_channels": "d.max_channels",
    "transfer_enabled": "t.enabled",
    "always": "t.always_destination",
    "busy": "t.busy_destination",
    "no_answer": "t.no_answer_destination",
    "unavailable": "t.unavailable_destination",
    "transfer_timeout": "t.timeout",
    "caller_id": "t.caller_id",
    "after_hours": "t.after_hours_destination",
    "schedule": "t.schedule",
}
"""DIDRoute's fields and their columns: everything a call needs, in one query."""
_ROUTE = f"""SELECT {", ".join(_ROUTE_COLUMNS.values())}
 FROM dids d JOIN accounts a ON a.id = d.account_id
 LEFT JOIN did_transfers t ON t.did_id = d.id
 WHERE d.number = ?"""


class DIDQueries(AccountQueries):
    """DIDs, their transfer settings and a call's route."""

    async def get_route(self, did: str) -> DIDRoute | None:
        """The routing data of one DID (hot path: one query), None when unknown."""
        async with self._read() as db:
            row = await db.fetch_one(_ROUTE, (strip_plus(did),))
        if row is None:
            return None
        values = dict(zip(_ROUTE_COLUMNS, row, strict=True))
        has_transfer = values["transfer_enabled"] is not None  # no row: nothing to transfer to
        values.update(
            did_active=bool(values["did_active"]),
            account_active=bool(values["account_active"]),
            account_transfer=bool(values["account_transfer"]),
            ring_timeout=int(values["ring_timeout"]),
            max_channels=int(values["max_channels"]),
            transfer_enabled=bool(values["transfer_enabled"]),
            transfer_timeout=int(values["transfer_timeout"]) if has_transfer else DEFAULT_TRANSFER_TIMEOUT,
            caller_id=values["caller_id"] if has_transfer else DEFAULT_CALLER_ID,
        )
        return DIDRoute(**values)

    @staticmethod
    def _did(row: Row) -> DIDRow:
        values = dict(zip(_DID_COLUMNS, row, strict=True))
        values.update(
            active=bool(values["active"]),
            ring_timeout=int(values["ring_timeout"]),
            max_channels=int(values["max_channels"]),
            created_at=_dt(values["created_at"]),
            updated_at=_dt(values["updated_at"]),
        )
        return DIDRow(**values)

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

    async def known_dids(self, numbers: Iterable[str]) -> set[str]:
        """Which of `numbers` are DIDs, of any account (one query per 500 numbers)."""
        wanted = sorted({strip_plus(n) for n in numbers})
        found: set[str] = set()
        async with self._read() as db:
            for batch in _batches(wanted):
                rows = await db.fetch_all(f"SELECT number FROM dids WHERE number IN ({_marks(batch)})", batch)
                found.update(str(row[0]) for row in rows)
        return found

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
        values = dict(zip(_TRANSFER_COLUMNS, row, strict=True))
        values.update(
            enabled=bool(values["enabled"]),
            transfer_timeout=int(values["transfer_timeout"]),
            updated_at=_dt(values["updated_at"]),
        )
        return TransferRow(**values)

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
                values = (*_transfer_values(row), row.updated_by, now, found[0])
                # UPDATE in place (not DELETE + INSERT): the change log then holds only the
                # fields that changed.
                updated = await db.execute(_UPDATE_TRANSFER, values)
                if updated == 0:
                    await db.execute(
                        f"INSERT INTO did_transfers ({', '.join(_TRANSFER_WRITE_COLUMNS)})"
                        f" VALUES ({_marks(_TRANSFER_WRITE_COLUMNS)})",
                        values,
                    )

    async def import_dids(self, new: Sequence[NewDID], transfers: Sequence[TransferRow]) -> None:
        """Create the `new` DIDs, then create or replace the transfer settings of every row's DID, all
        in one transaction (a CSV import): many rows a statement where nothing is there yet."""
        now = self._now()
        async with self._change(bulk=True) as db:
            owners = sorted({d.account for d in new})
            accounts: dict[str, Any] = {}
            for names in _batches(owners):
                rows = await db.fetch_all(
                    f"SELECT number, id FROM accounts WHERE number IN ({_marks(names)})", names
                )
                accounts.update((str(row[0]), row[1]) for row in rows)
            for dids in _batches(new):
                if missing := [d.account for d in dids if d.account not in accounts]:
                    raise InputError(f"account {missing[0]} not found")
                await db.insert_rows(
                    "dids",
                    _NEW_DID_COLUMNS,
                    [
                        (d.number, accounts[d.account], 1, d.primary, DEFAULT_RING_TIMEOUT, 0, now, now)
                        for d in dids
                    ],
                )
            ids: dict[str, Any] = {}
            configured: set[Any] = set()
            for numbers in _batches([strip_plus(row.did) for row in transfers]):
                found = await db.fetch_all(
                    "SELECT d.number, d.id, t.did_id FROM dids d LEFT JOIN did_transfers t ON t.did_id = d.id"
                    f" WHERE d.number IN ({_marks(numbers)})",
                    numbers,
                )
                ids.update((str(row[0]), row[1]) for row in found)
                configured.update(row[1] for row in found if row[2] is not None)
            fresh = []
            for row in transfers:
                did_id = ids.get(strip_plus(row.did))
                if did_id is None:
                    raise InputError(f"DID {strip_plus(row.did)} not found")
                values = (*_transfer_values(row), row.updated_by, now, did_id)
                if did_id in configured:
                    # UPDATE in place: the change log then holds only the fields that changed.
                    await db.execute(_UPDATE_TRANSFER, values)
                else:
                    fresh.append(values)
            for values_batch in _batches(fresh):
                await db.insert_rows("did_transfers", _TRANSFER_WRITE_COLUMNS, values_batch)


_NEW_DID_COLUMNS = (
    "number", "account_id", "active", "primary_destination", "ring_timeout", "max_channels", "created_at",
    "updated_at",
)  # fmt: skip
_TRANSFER_WRITE_COLUMNS = (
    "enabled", "always_destination", "busy_destination", "no_answer_destination", "unavailable_destination",
    "after_hours_destination", "schedule", "timeout", "caller_id", "updated_by", "updated_at", "did_id",
)  # fmt: skip
"""The columns set_transfers and import_dids write, in the order of their values."""
_UPDATE_TRANSFER = (
    "UPDATE did_transfers SET "
    + ", ".join(f"{column} = ?" for column in _TRANSFER_WRITE_COLUMNS[:-1])
    + " WHERE did_id = ?"
)


def _transfer_values(row: TransferRow) -> tuple[Any, ...]:
    """A row's settings in the order of _TRANSFER_WRITE_COLUMNS, up to caller_id."""
    return (
        row.enabled,
        row.always,
        row.busy,
        row.no_answer,
        row.unavailable,
        row.after_hours,
        row.schedule,
        row.transfer_timeout,
        row.caller_id,
    )


T = TypeVar("T")


def _batches(values: Sequence[T], size: int = 500) -> list[Sequence[T]]:
    """`values` in slices of `size` (a statement's placeholders stay well under every limit)."""
    return [values[first : first + size] for first in range(0, len(values), size)]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)
