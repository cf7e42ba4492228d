"""One page of the DIDs Call Transfer table: searched, sorted by any column, counted, read from one index.

Schema 6 keeps every DID's sort keys in `did_grid` (kept there by triggers), with one index per sort
order that ends with `account_id`, a count of DIDs per account (`account_dids`) and the suffixes of
every DID's number (`did_suffixes`). A page is then one of three plans, chosen from those counts:

- walk: the sort order's index from the page's edge (keyset: the row after or before a known one),
  filtered inside the index by the scope and the search, stopping after one page. Used when the rows
  that qualify are a large enough share of all DIDs that a page is found within a few thousand entries;
- scope: the DIDs in scope through the account index, sorted, when they are few;
- match: a search's matches through the suffixes and the accounts' counts, sorted, when they are few.

None reads more than those bounds, whatever the page: there is no offset to scan past (the service
allows a small one for old clients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from did_failover.numbers import is_digits, typed_number
from did_failover.storage._accounts import _ACCOUNT
from did_failover.storage._dids import _DID, _TRANSFER, DIDQueries, _marks
from did_failover.storage.records import DIDPage, PageKey, PageRows

_ORDER_KEYS = {
    "did": ("d.number", "ix_did_grid_number"),
    "account": ("d.account_key", "ix_did_grid_account"),
    "busy": ("d.busy_key", "ix_did_grid_busy"),
    "no_answer": ("d.no_answer_key", "ix_did_grid_no_answer"),
    "unavailable": ("d.unavailable_key", "ix_did_grid_unavailable"),
    "always": ("d.always_key", "ix_did_grid_always"),
    "did_type": ("d.primary_key", "ix_did_grid_primary"),
    "number": ("d.primary_key", "ix_did_grid_primary"),
    "status": ("d.status_key", "ix_did_grid_status"),
}
"""Each page order's sort key in did_grid and the index that walks it (with d.number after the key)."""

GATHER_MAX = 5000
"""Rows that qualify up to which a page sorts them rather than walking an index."""
DENSE_SHARE = 0.005
"""Walk the index when at least this share of all DIDs qualifies: a page is then found within
50 / 0.005 = 10,000 index entries."""
COUNT_CAP = 10000
"""A search that matches more DIDs than this is counted as `COUNT_CAP`, not exactly."""

Plan = Literal["walk", "scope", "match"]
"""walk: the order's index, filtered; scope: the scope's DIDs through the account index, sorted;
match: the search's matches (suffixes, accounts), sorted."""


@dataclass(slots=True)
class _Filter:
    """The WHERE terms every plan shares: scope and search, with their arguments."""

    terms: list[str]
    args: list[Any]

    def sql(self, *more: str) -> str:
        every = [*self.terms, *more]
        return f" WHERE {' AND '.join(every)}" if every else ""


class GridQueries(DIDQueries):
    """The grid's pages, on the DIDs' own queries."""

    _ROW_VALUES = True
    """Whether `(a, b) > (?, ?)` seeks an index (SQLite); else it is spelled out (MySQL)."""

    def _hint(self, index: str) -> str:
        """The clause after `FROM did_grid d` that makes the planner use `index` ("": its own choice)."""
        raise NotImplementedError

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
        after: PageKey | None = None,
        before: PageKey | None = None,
        last: bool = False,
    ) -> DIDPage:
        """One page of DIDs with their account and transfer settings, and how many match in all.

        The page starts after `after`, ends before `before`, is the last one (`last`), or starts at
        `offset`; `search` matches part of the DID or of the account number."""
        key, index = _ORDER_KEYS[order]  # KeyError for anything else: the column never comes from input
        async with self._read() as db:
            owners, in_scope, everything = await self._scope(db, reseller, account)
            if owners == []:
                return DIDPage([], 0, True, None, None, False, False)
            where = _Filter([], [])
            if owners is not None:
                where.terms.append(f"d.account_id IN ({_marks(owners)})")
                where.args.extend(owners)
            few = in_scope <= GATHER_MAX or (owners is not None and in_scope < DENSE_SHARE * everything)
            plan: Plan = "scope" if few else "walk"
            total, exact = in_scope, True
            if search:
                plan, total, exact = await self._search(db, where, search, owners, in_scope, everything)
            if total == 0:
                return DIDPage([], 0, True, None, None, False, False)
            backward = (before is not None or last) != descending
            edge = before if before is not None else after
            beyond, beyond_args = self._beyond(key, edge, backward)
            sense = "DESC" if backward else "ASC"
            hint = {"walk": index, "scope": "ix_did_grid_account_id", "match": ""}[plan]
            rows = await db.fetch_all(
                f"SELECT d.number, {key} FROM did_grid d{self._hint(hint)}{where.sql(*beyond)}"
                f" ORDER BY {key} {sense}, d.number {sense} LIMIT ? OFFSET ?",
                (*where.args, *beyond_args, int(limit) + 1, int(offset)),
            )
            extra = len(rows) > limit
            found = [PageKey(str(row[1]), str(row[0])) for row in rows[:limit]]
            if before is not None or last:
                found.reverse()
            page = await self._rows(db, [k.number for k in found])
        toward_start = before is not None or last
        return DIDPage(
            rows=page,
            total=total,
            total_exact=exact,
            first=found[0] if found else None,
            last=found[-1] if found else None,
            more_before=extra if toward_start else (after is not None or offset > 0),
            more_after=(before is not None) if toward_start else extra,
        )

    async def _scope(
        self, db: Any, reseller: str | None, account: str | None
    ) -> tuple[list[Any] | None, int, int]:
        """The account ids in scope (None: every account), how many DIDs they hold, and all DIDs."""
        owners: list[Any] | None = None
        if reseller is not None:
            owners = [
                row[0]
                for row in await db.fetch_all(
                    "SELECT c.id FROM accounts c JOIN accounts r ON r.id = c.reseller_id WHERE r.number = ?",
                    (reseller,),
                )
            ]
        if account is not None:
            found = await db.fetch_one("SELECT id FROM accounts WHERE number = ?", (account,))
            owners = [found[0]] if found is not None and (owners is None or found[0] in owners) else []
        everything = await self._dids_of(db, None)
        in_scope = everything if owners is None else await self._dids_of(db, owners)
        return owners, in_scope, everything

    @staticmethod
    async def _dids_of(db: Any, owners: list[Any] | None) -> int:
        """How many DIDs the accounts `owners` hold (None: every account), from account_dids."""
        if owners == []:
            return 0
        where = "" if owners is None else f" WHERE account_id IN ({_marks(owners)})"
        found = await db.fetch_one(f"SELECT COALESCE(SUM(dids), 0) FROM account_dids{where}", owners or ())
        return int(found[0]) if found else 0

    async def _search(
        self, db: Any, where: _Filter, search: str, owners: list[Any] | None, in_scope: int, everything: int
    ) -> tuple[Plan, int, bool]:
        """Add the search to `where`; return the plan, and the count (and whether it is exact).

        A DID matches when its number contains the search's digits or its account's number contains
        the search. The numbers are found through their suffixes when the search has 3 digits or more;
        a shorter one matches too many numbers for that to help."""
        pattern = "%" + search.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        accounts = [
            row[0]
            for row in await db.fetch_all(
                "SELECT id FROM accounts WHERE number LIKE ? ESCAPE '!'", (pattern,)
            )
            if owners is None or row[0] in owners
        ]
        digits = typed_number(search).removeprefix("+")
        matches: list[str] = []
        if accounts:
            matches.append(f"d.account_id IN ({_marks(accounts)})")
        if not is_digits(digits):
            suffixes = 0  # no number has anything but digits
        elif len(digits) >= 3:
            found = await db.fetch_one(
                "SELECT COUNT(*) FROM (SELECT did_id FROM did_suffixes WHERE suffix >= ? AND suffix < ?"
                " LIMIT ?) s",
                (digits, digits + ":", COUNT_CAP + 1),
            )
            suffixes = int(found[0]) if found else 0
            if suffixes <= COUNT_CAP:
                matches.append(
                    "d.did_id IN (SELECT did_id FROM did_suffixes WHERE suffix >= ? AND suffix < ?)"
                )
            else:
                matches.append("d.number LIKE ?")
        else:
            suffixes = COUNT_CAP + 1
            matches.append("d.number LIKE ?")
        if not matches:
            return "match", 0, True
        where.terms.append(f"({' OR '.join(matches)})")
        where.args.extend(accounts)
        if is_digits(digits):
            if suffixes <= COUNT_CAP and len(digits) >= 3:
                where.args.extend([digits, digits + ":"])
            else:
                where.args.append(f"%{digits}%")
        candidates = suffixes + await self._dids_of(db, accounts)
        if candidates <= COUNT_CAP or in_scope <= GATHER_MAX:
            found = await db.fetch_one(f"SELECT COUNT(*) FROM did_grid d{where.sql()}", where.args)
            return ("match" if candidates <= COUNT_CAP else "scope"), int(found[0]) if found else 0, True
        # Many candidates: walk the order's index, and count only up to the cap.
        found = await db.fetch_one(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM did_grid d{where.sql()} LIMIT ?) m",
            (*where.args, COUNT_CAP + 1),
        )
        count = int(found[0]) if found else 0
        plan: Plan = "walk" if owners is None or in_scope >= DENSE_SHARE * everything else "scope"
        return plan, min(count, COUNT_CAP), count <= COUNT_CAP

    def _beyond(self, key: str, edge: PageKey | None, backward: bool) -> tuple[list[str], list[str]]:
        """The keyset term and its arguments: rows past `edge` in the walk's direction."""
        if edge is None:
            return [], []
        sign = "<" if backward else ">"
        if key == "d.number":
            return [f"d.number {sign} ?"], [edge.number]
        if self._ROW_VALUES:
            return [f"({key}, d.number) {sign} (?, ?)"], [edge.key, edge.number]
        return [f"({key} {sign} ? OR ({key} = ? AND d.number {sign} ?))"], [edge.key, edge.key, edge.number]

    async def _rows(self, db: Any, numbers: list[str]) -> PageRows:
        """The page's DIDs with their accounts and transfer settings, in the order of `numbers`."""
        if not numbers:
            return []
        marks = _marks(numbers)
        dids = {
            r[0]: self._did(r) for r in await db.fetch_all(f"{_DID} WHERE d.number IN ({marks})", numbers)
        }
        transfers = {
            r[0]: self._transfer(r)
            for r in await db.fetch_all(f"{_TRANSFER} WHERE d.number IN ({marks})", numbers)
        }
        owners = sorted({d.account for d in dids.values()})
        accounts = {
            r[0]: self._account(r)
            for r in await db.fetch_all(f"{_ACCOUNT} WHERE a.number IN ({_marks(owners)})", owners)
        }
        return [(dids[n], accounts[dids[n].account], transfers.get(n)) for n in numbers if n in dids]
