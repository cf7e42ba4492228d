"""The call-transfer settings of DIDs, one at a time, as a table, and as CSV."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, TextIO

from did_failover.admin import validation as valid
from did_failover.admin._accounts import AccountOperations
from did_failover.admin.csv_format import OPTIONAL_COLUMNS, csv_header, parse_csv, write_csv
from did_failover.admin.loops import ForwardLoop, hops
from did_failover.admin.paging import MAX_OFFSET, TransferPage, decode_cursor, encode_cursor
from did_failover.admin.scope import Scope, scoped
from did_failover.admin.views import TransferView, transfer_view
from did_failover.errors import InputError, NothingToChange
from did_failover.numbers import did_number
from did_failover.storage.base import acting_as
from did_failover.storage.records import (
    DEFAULT_RING_TIMEOUT,
    PAGE_ORDERS,
    TransferRow,
    default_transfer,
)


class TransferOperations(AccountOperations):
    """The call-transfer settings."""

    @scoped()
    async def set_transfer(
        self,
        scope: Scope,
        did: str,
        *,
        always: str | None = None,
        busy: str | None = None,
        no_answer: str | None = None,
        unavailable: str | None = None,
        timeout: int | None = None,
        caller_id: str | None = None,
        enabled: bool | None = None,
        after_hours: str | None = None,
        schedule: str | None = None,
    ) -> TransferView:
        """Change a DID's transfer settings; a forward list (or schedule) of `none` clears it.

        A DID without transfer settings gets them created, switched on unless --off is given.
        Settings that could keep a caller ringing longer than `max_ring` are refused.
        """
        given = {
            "always": always,
            "busy": busy,
            "no_answer": no_answer,
            "unavailable": unavailable,
            "after_hours": after_hours,
        }
        if all(v is None for v in (*given.values(), timeout, caller_id, enabled, schedule)):
            raise NothingToChange(*given, "timeout", "caller_id", "enabled")
        number = did_number(did)
        changes: dict[str, Any] = {
            condition: valid.optional_forwards(text, condition)
            for condition, text in given.items()
            if text is not None
        }
        if schedule is not None:
            # A time zone's first use reads its file: not on the event loop.
            changes["schedule"] = await asyncio.to_thread(valid.optional_schedule, schedule)
        if timeout is not None:
            changes["transfer_timeout"] = valid.seconds(timeout, "timeout")
        if caller_id is not None:
            changes["caller_id"] = valid.caller_id_mode(caller_id, "caller_id")
        if enabled is not None:
            changes["enabled"] = enabled
        row, _ = await self._did(scope, number)
        current = await self.repo.get_transfer(number) or default_transfer(number)
        merged = dataclasses.replace(current, **changes, updated_by=scope.updated_by)
        valid.transfer_ring_total(row.ring_timeout, merged, self.max_ring)
        await self._refuse_loops(scope, {number: hops(row.primary, merged)})
        with acting_as(scope.actor):
            await self.repo.set_transfer(merged)
        return await self.show_transfer(scope, number)

    @scoped()
    async def list_transfers(self, scope: Scope) -> list[TransferView]:
        """Every DID the scope sees with its transfer settings (the "DIDs Call Transfer" table)."""
        dids = await self.repo.list_dids(account=scope.customer, reseller=scope.reseller)
        transfers = {t.did: t for t in await self.repo.list_transfers(reseller=scope.reseller)}
        accounts = {a.number: a for a in await self.list_accounts(scope)}
        return [transfer_view(d, accounts[d.account], transfers.get(d.number)) for d in dids]

    @scoped()
    async def page_transfers(
        self,
        scope: Scope,
        *,
        search: str = "",
        order: str = "did",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
        after: str | None = None,
        before: str | None = None,
        last: bool = False,
    ) -> TransferPage:
        """One page of the "DIDs Call Transfer" table the scope sees: the first (from `offset`), the
        one after or before a cursor, or the last; with how many rows match in all."""
        if order not in PAGE_ORDERS:
            raise InputError(f"must be one of {', '.join(PAGE_ORDERS)}, got {order[:20]!r}", "order")
        if not 1 <= limit <= 1000:
            raise InputError(f"must be 1..1000 rows a page, got {limit}", "limit")
        if not 0 <= offset <= MAX_OFFSET:
            raise InputError(f"must be 0..{MAX_OFFSET}, got {offset}; page further with after", "offset")
        if len(search) > 64:
            raise InputError("at most 64 characters", "search")
        given = [name for name, value in (("after", after), ("before", before), ("last", last)) if value]
        if len(given) > 1 or (given and offset):
            raise InputError(
                f"give one of offset, after, before and last, not {' and '.join(given)}", given[-1]
            )
        page = await self.repo.page_dids(
            reseller=scope.reseller,
            account=scope.customer,
            search=search,
            order=order,
            descending=descending,
            limit=limit,
            offset=offset,
            after=decode_cursor(after, order, "after") if after else None,
            before=decode_cursor(before, order, "before") if before else None,
            last=last,
        )
        return TransferPage(
            views=[transfer_view(d, a, t) for d, a, t in page.rows],
            total=page.total,
            total_exact=page.total_exact,
            previous=encode_cursor(order, page.first) if page.first and page.more_before else None,
            next=encode_cursor(order, page.last) if page.last and page.more_after else None,
        )

    @scoped()
    async def show_transfer(self, scope: Scope, did: str) -> TransferView:
        """One DID's transfer settings."""
        row, account = await self._did(scope, did)
        return transfer_view(row, account, await self.repo.get_transfer(row.number))

    @scoped()
    async def export_csv(self, scope: Scope, out: TextIO) -> int:
        """Write the transfer settings of every DID the scope sees as CSV; return the row count."""
        views = await self.list_transfers(scope)
        write_csv(views, out)
        return len(views)

    @scoped(customer_may=False)
    async def import_csv(self, scope: Scope, text: str, *, dry_run: bool = False) -> Imported:
        """Apply the transfer settings of an export-format CSV, all rows or none; return the counts.

        Every row is checked first; any bad row raises one InputError listing each bad row by
        line number. For a DID that exists, the account and primary columns are not applied: a row
        that changes either is a bad row. A DID that does not exist is created from its row's
        account (a customer the scope sees) and primary, with the default ring timeout.
        """
        visible = {d.number: d for d in await self.repo.list_dids(reseller=scope.reseller)}
        accounts = {a.number: a for a in await self.list_accounts(scope)}
        rows, new, problems = await asyncio.to_thread(
            parse_csv, text, visible, accounts, scope.updated_by, self.max_ring
        )
        taken = await self.repo.known_dids(d.number for _, d in new) if new else set()
        if taken:  # numbers are global: another tenant's DID is taken, and named by its number only
            lines = [
                (line, f"line {line}: DID {d.number} already exists") for line, d in new if d.number in taken
            ]
            problems = [text for _, text in sorted([*((_line(p), p) for p in problems), *lines])]
        if problems:
            count = len(problems)
            summary = f"nothing imported: {count} bad row{'s' if count > 1 else ''}"
            raise InputError("\n".join([*problems, summary]))
        primaries = {d.number: d.primary for d in visible.values()} | {d.number: d.primary for _, d in new}
        kept = OPTIONAL_COLUMNS - set(csv_header(text))
        if kept and rows:  # a file from before those columns: the DIDs keep what they have
            current = {t.did: t for t in await self.repo.list_transfers(reseller=scope.reseller)}
            rows = [_keep(row, current.get(row.did), kept) for row in rows]
            for row in rows:
                ring = visible[row.did].ring_timeout if row.did in visible else DEFAULT_RING_TIMEOUT
                try:
                    valid.transfer_ring_total(ring, row, self.max_ring)
                except InputError as exc:
                    raise InputError(f"DID {row.did}: {exc}\nnothing imported") from None
        try:
            await self._refuse_loops(scope, {r.did: hops(primaries[r.did], r) for r in rows})
        except ForwardLoop as exc:
            raise InputError(f"DID {exc.did}: {exc.words()}\nnothing imported") from None
        if not dry_run:
            with acting_as(scope.actor):
                await self.repo.import_dids([d for _, d in new], rows)
        return Imported(created=len(new), configured=len(rows))


@dataclasses.dataclass(frozen=True, slots=True)
class Imported:
    """What a CSV import did (or, in a dry run, would do)."""

    created: int
    """DIDs created."""
    configured: int
    """DIDs whose transfer settings it set, the created ones included."""


def _line(problem: str) -> int:
    """The line number a problem of `parse_csv` starts with ("line 12: ...")."""
    return int(problem.split(":", 1)[0].removeprefix("line "))


def _keep(row: TransferRow, current: TransferRow | None, kept: set[str] | frozenset[str]) -> TransferRow:
    """An imported row with the `kept` fields (after_hours, schedule) as the DID has them now."""
    return dataclasses.replace(
        row,
        after_hours=current.after_hours if current and "after_hours" in kept else row.after_hours,
        schedule=current.schedule if current and "schedule" in kept else row.schedule,
    )
