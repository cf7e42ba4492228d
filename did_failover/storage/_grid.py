"""One page of the DIDs Call Transfer table: searched, sorted by any column, counted, in three queries."""

from __future__ import annotations

from typing import Any

from did_failover.storage._accounts import _ACCOUNT
from did_failover.storage._dids import _DID, _TRANSFER, DIDQueries
from did_failover.storage.records import AccountRow, DIDRow, TransferRow

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


class GridQueries(DIDQueries):
    """The grid's pages, on the DIDs' own queries."""

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
