"""The accounts: their queries, written once for both back ends."""

from __future__ import annotations

from typing import Any

from did_failover.errors import InputError
from did_failover.storage._base import Row, SQLBase, _dt
from did_failover.storage.records import AccountRow, AccountType

_ACCOUNT_COLUMNS = {
    "number": "a.number",
    "name": "a.name",
    "type": "a.type",
    "reseller": "r.number",
    "active": "a.active",
    "transfer_enabled": "a.transfer_enabled",
    "created_at": "a.created_at",
    "updated_at": "a.updated_at",
}
"""AccountRow's fields and the column each is read from, declared once: the SELECT and the mapping."""
_ACCOUNT = f"""SELECT {", ".join(_ACCOUNT_COLUMNS.values())}
 FROM accounts a LEFT JOIN accounts r ON r.id = a.reseller_id"""


class AccountQueries(SQLBase):
    """The accounts."""

    @staticmethod
    def _account(row: Row) -> AccountRow:
        values = dict(zip(_ACCOUNT_COLUMNS, row, strict=True))
        values.update(
            active=bool(values["active"]),
            transfer_enabled=bool(values["transfer_enabled"]),
            created_at=_dt(values["created_at"]),
            updated_at=_dt(values["updated_at"]),
        )
        return AccountRow(**values)

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
