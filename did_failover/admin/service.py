"""The service layer behind the CLI (and later the web page): validation, admin/reseller scope, CSV.

Longer than our other modules on purpose: it is every management operation, each with its scope
check, in the one class the CLI, the web page and the API share, so that no rule is written twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any, TextIO, get_args

from did_failover.admin import validation as valid
from did_failover.admin.csv_format import OPTIONAL_COLUMNS, csv_header, parse_csv, write_csv
from did_failover.admin.views import TransferView, transfer_view
from did_failover.errors import Conflict, Forbidden, InputError, NotFound, NothingToChange
from did_failover.numbers import account_number, did_number
from did_failover.storage.base import Repository, acting_as
from did_failover.storage.records import (
    DEFAULT_RING_TIMEOUT,
    PAGE_ORDERS,
    AccountRow,
    AccountType,
    CallRecord,
    ChangeRow,
    DIDRow,
    TransferRow,
    default_transfer,
)

ACCOUNT_TYPES: tuple[AccountType, ...] = get_args(AccountType)
ACCOUNT_FIELDS = frozenset({"account", "reseller"})
"""Change-log fields whose values are account numbers."""
OUTSIDE = "(another tenant)"
"""What a change-log value shows in place of an account number outside the viewer's scope."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Who acts: the admin (neither set), a reseller, who sees only its own customers, or a customer
    (web and API only), who sees only its own DIDs and may change only their transfer settings; and
    the actor the change log records (`cli:USER`, `web:USER`)."""

    reseller: str | None = None
    actor: str = "admin"
    customer: str | None = None

    @property
    def updated_by(self) -> str:
        """The `updated_by` text recorded with a transfer change: the actor."""
        return self.actor


ADMIN = Scope()


class Service:
    """Every management operation, each taking the acting Scope; validation before any write."""

    def __init__(self, repo: Repository, max_ring: int = 180) -> None:
        self.repo = repo
        self.max_ring = max_ring
        """DID_FAILOVER_MAX_RING_TOTAL: settings that could ring a caller longer are refused."""

    async def init_db(self) -> int:
        """Create the schema idempotently and return its version."""
        return await self.repo.init_schema()

    async def check_scope(self, scope: Scope, customer_may: bool = True) -> None:
        """Refuse a reseller or customer scope that names no such account, and a customer where
        `customer_may` is False (only the transfer settings of its own DIDs are a customer's)."""
        if scope.customer is not None:
            account = await self.repo.get_account(account_number(scope.customer, "account"))
            if account is None or account.type != "customer":
                raise NotFound(f"there is no customer account {scope.customer}")
            if not customer_may:
                raise Forbidden("a customer user may change only the transfer settings of its DIDs")
            return
        if scope.reseller is None:
            return
        account = await self.repo.get_account(account_number(scope.reseller, "as_reseller"))
        if account is None or account.type != "reseller":
            raise InputError(f"there is no reseller account {scope.reseller}", "as_reseller")

    @staticmethod
    def sees(scope: Scope, account: AccountRow) -> bool:
        """True when the scope may see the account: the admin sees all, a reseller its customers, a
        customer itself."""
        if scope.customer is not None:
            return account.number == scope.customer
        return scope.reseller is None or (account.type == "customer" and account.reseller == scope.reseller)

    async def _account(self, scope: Scope, number: str, field: str = "account") -> AccountRow:
        account = await self.repo.get_account(account_number(number, field))
        if account is None or not self.sees(scope, account):
            raise NotFound(f"account {number} not found")
        return account

    async def _did(self, scope: Scope, did: str) -> tuple[DIDRow, AccountRow]:
        number = did_number(did)
        row = await self.repo.get_did(number)
        if row is not None:
            account = await self.repo.get_account(row.account)
            if account is not None and self.sees(scope, account):
                return row, account
        raise NotFound(f"DID {number} not found")

    async def _customer(self, scope: Scope, number: str) -> AccountRow:
        account = await self._account(scope, number, "account")
        if account.type != "customer":
            raise InputError(
                f"account {number} is a {account.type} account; DIDs belong to customers", "account"
            )
        return account

    # Accounts

    async def add_account(
        self, scope: Scope, number: str, name: str, type: str, reseller: str | None = None
    ) -> AccountRow:
        """Create an account; a reseller scope may only create customers under itself."""
        await self.check_scope(scope, customer_may=False)
        number = account_number(number, "number")
        name = valid.account_name(name)
        if type not in ACCOUNT_TYPES:
            raise InputError(f"must be admin, reseller or customer, got {type[:20]!r}", "type")
        if reseller is not None:
            account_number(reseller, "reseller")
            if type != "customer":
                raise InputError("only a customer account belongs to a reseller", "reseller")
        if scope.reseller is not None:
            if type != "customer":
                raise Forbidden("a reseller can create customer accounts only", "type")
            if reseller is not None and reseller != scope.reseller:
                raise NotFound(f"account {reseller} not found")
            reseller = scope.reseller
        elif reseller is not None:
            owner = await self.repo.get_account(reseller)
            if owner is None:
                raise NotFound(f"account {reseller} not found")
            if owner.type != "reseller":
                raise InputError(f"account {reseller} is a {owner.type}, not a reseller", "reseller")
        if await self.repo.get_account(number) is not None:
            raise Conflict(f"account {number} already exists")
        with acting_as(scope.actor):
            return await self.repo.add_account(number, name, type, reseller)

    async def set_account(
        self,
        scope: Scope,
        number: str,
        *,
        name: str | None = None,
        active: bool | None = None,
        transfer: bool | None = None,
    ) -> AccountRow:
        """Change an account's name, status or account-level transfer switch."""
        await self.check_scope(scope, customer_may=False)
        if name is None and active is None and transfer is None:
            raise NothingToChange("name", "active", "transfer")
        name = None if name is None else valid.account_name(name)
        await self._account(scope, number)
        with acting_as(scope.actor):
            return await self.repo.update_account(number, name=name, active=active, transfer_enabled=transfer)

    async def list_accounts(self, scope: Scope) -> list[AccountRow]:
        """Every account the scope sees."""
        await self.check_scope(scope)
        if scope.customer is not None:
            return [await self._account(scope, scope.customer)]
        return await self.repo.list_accounts(reseller=scope.reseller)

    # DIDs

    async def add_did(
        self,
        scope: Scope,
        did: str,
        account: str,
        primary: str,
        ring_timeout: int = DEFAULT_RING_TIMEOUT,
        max_channels: int = 0,
    ) -> DIDRow:
        """Create a DID for a customer account the scope sees."""
        await self.check_scope(scope, customer_may=False)
        number = did_number(did)
        account_number(account, "account")
        primary = valid.destination(primary, "primary")
        valid.seconds(ring_timeout, "ring_timeout")
        valid.max_channels(max_channels)
        await self._customer(scope, account)
        if await self.repo.get_did(number) is not None:
            raise Conflict(f"DID {number} already exists")
        with acting_as(scope.actor):
            return await self.repo.add_did(number, account, primary, ring_timeout, max_channels)

    async def set_did(
        self,
        scope: Scope,
        did: str,
        *,
        account: str | None = None,
        primary: str | None = None,
        ring_timeout: int | None = None,
        max_channels: int | None = None,
        active: bool | None = None,
    ) -> DIDRow:
        """Change a DID's account, primary destination, ring timeout, channel limit or status."""
        await self.check_scope(scope, customer_may=False)
        if all(v is None for v in (account, primary, ring_timeout, max_channels, active)):
            raise NothingToChange("account", "primary", "ring_timeout", "max_channels", "active")
        number = did_number(did)
        if account is not None:
            account_number(account, "account")
        if primary is not None:
            primary = valid.destination(primary, "primary")
        if ring_timeout is not None:
            valid.seconds(ring_timeout, "ring_timeout")
        if max_channels is not None:
            valid.max_channels(max_channels)
        await self._did(scope, number)
        if account is not None:
            await self._customer(scope, account)
        if ring_timeout is not None:
            transfer = await self.repo.get_transfer(number) or default_transfer(number)
            valid.ring_total(ring_timeout, transfer.transfer_timeout, _lists(transfer), self.max_ring)
        with acting_as(scope.actor):
            return await self.repo.update_did(
                number,
                account=account,
                primary=primary,
                ring_timeout=ring_timeout,
                max_channels=max_channels,
                active=active,
            )

    async def remove_did(self, scope: Scope, did: str) -> None:
        """Delete a DID and its transfer settings."""
        await self.check_scope(scope, customer_may=False)
        row, _ = await self._did(scope, did)
        with acting_as(scope.actor):
            await self.repo.remove_did(row.number)

    async def list_dids(self, scope: Scope, account: str | None = None) -> list[DIDRow]:
        """The DIDs the scope sees, optionally of one account."""
        await self.check_scope(scope)
        if account is not None:
            await self._account(scope, account, "account")
        return await self.repo.list_dids(account=account or scope.customer, reseller=scope.reseller)

    # Call history

    async def list_calls(
        self,
        scope: Scope,
        *,
        did: str | None = None,
        account: str | None = None,
        since: str | None = None,
        limit: int = 50,
    ) -> list[CallRecord]:
        """The call history the scope sees, newest first."""
        await self.check_scope(scope)
        if account is not None:
            await self._account(scope, account, "account")
        if not 1 <= limit <= 100_000:
            raise InputError(f"{limit} is not a number of calls 1..100000", "limit")
        return await self.repo.list_calls(
            did=did_number(did, "did") if did is not None else None,
            account=account or scope.customer,
            reseller=scope.reseller,
            since=valid.parse_since(since) if since is not None else None,
            limit=limit,
        )

    # Change log

    async def list_changes(
        self,
        scope: Scope,
        *,
        did: str | None = None,
        account: str | None = None,
        actor: str | None = None,
        since: str | None = None,
        limit: int = 50,
    ) -> list[ChangeRow]:
        """The changes the scope sees (a reseller: its customers'), newest first.

        `did` need not exist any more: the log outlives a removed DID."""
        await self.check_scope(scope)
        if account is not None:
            await self._account(scope, account, "account")
        if actor is not None and not 1 <= len(actor) <= 64:
            raise InputError("give a name of 1..64 characters", "actor")
        if not 1 <= limit <= 100_000:
            raise InputError(f"{limit} is not a number of changes 1..100000", "limit")
        rows = await self.repo.list_changes(
            did=did_number(did, "did") if did is not None else None,
            account=account or scope.customer,
            reseller=scope.reseller,
            actor=actor,
            since=valid.parse_since(since) if since is not None else None,
            limit=limit,
        )
        return await self._outside_hidden(scope, rows)

    async def _outside_hidden(self, scope: Scope, rows: list[ChangeRow]) -> list[ChangeRow]:
        """The rows with every account number the scope may not see replaced by OUTSIDE: a DID
        moved in from another tenant shows where it came from to no one who could not see it there."""
        admin = scope.reseller is None and scope.customer is None
        if admin or not any(row.field in ACCOUNT_FIELDS for row in rows):
            return rows  # the admin sees every account; no row names one: nothing to look up
        accounts = await self.list_accounts(scope)
        visible = {scope.reseller} | {a.number for a in accounts} | {a.reseller for a in accounts}

        def shown(value: str | None) -> str | None:
            return value if value is None or value in visible else OUTSIDE

        return [
            dataclasses.replace(row, old=shown(row.old), new=shown(row.new))
            if row.field in ACCOUNT_FIELDS
            else row
            for row in rows
        ]

    # Call transfer

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
        await self.check_scope(scope)
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
        valid.ring_total(row.ring_timeout, merged.transfer_timeout, _lists(merged), self.max_ring)
        with acting_as(scope.actor):
            await self.repo.set_transfer(merged)
        return await self.show_transfer(scope, number)

    async def list_transfers(self, scope: Scope) -> list[TransferView]:
        """Every DID the scope sees with its transfer settings (the "DIDs Call Transfer" table)."""
        await self.check_scope(scope)
        dids = await self.repo.list_dids(account=scope.customer, reseller=scope.reseller)
        transfers = {t.did: t for t in await self.repo.list_transfers(reseller=scope.reseller)}
        accounts = {a.number: a for a in await self.list_accounts(scope)}
        return [transfer_view(d, accounts[d.account], transfers.get(d.number)) for d in dids]

    async def page_transfers(
        self,
        scope: Scope,
        *,
        search: str = "",
        order: str = "did",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[TransferView], int]:
        """One page of the "DIDs Call Transfer" table the scope sees, and how many rows match in all."""
        await self.check_scope(scope)
        if order not in PAGE_ORDERS:
            raise InputError(f"must be one of {', '.join(PAGE_ORDERS)}, got {order[:20]!r}", "order")
        if not 1 <= limit <= 1000 or offset < 0:
            raise InputError("1..1000 rows a page, offset 0 or more", "limit")
        if len(search) > 64:
            raise InputError("at most 64 characters", "search")
        rows, total = await self.repo.page_dids(
            reseller=scope.reseller,
            account=scope.customer,
            search=search,
            order=order,
            descending=descending,
            limit=limit,
            offset=offset,
        )
        return [transfer_view(d, a, t) for d, a, t in rows], total

    async def show_transfer(self, scope: Scope, did: str) -> TransferView:
        """One DID's transfer settings."""
        await self.check_scope(scope)
        row, account = await self._did(scope, did)
        return transfer_view(row, account, await self.repo.get_transfer(row.number))

    async def export_csv(self, scope: Scope, out: TextIO) -> int:
        """Write the transfer settings of every DID the scope sees as CSV; return the row count."""
        views = await self.list_transfers(scope)
        write_csv(views, out)
        return len(views)

    async def import_csv(self, scope: Scope, text: str, *, dry_run: bool = False) -> int:
        """Apply the transfer settings of an export-format CSV, all rows or none; return the count.

        Every row is checked first; any bad row raises one InputError listing each bad row by
        line number. The account and primary columns are informational and not applied.
        """
        await self.check_scope(scope, customer_may=False)
        visible = {d.number: d.ring_timeout for d in await self.repo.list_dids(reseller=scope.reseller)}
        rows, problems = await asyncio.to_thread(parse_csv, text, visible, scope.updated_by, self.max_ring)
        if problems:
            count = len(problems)
            summary = f"nothing imported: {count} bad row{'s' if count > 1 else ''}"
            raise InputError("\n".join([*problems, summary]))
        kept = OPTIONAL_COLUMNS - set(csv_header(text))
        if kept and rows:  # a file from before those columns: the DIDs keep what they have
            current = {t.did: t for t in await self.repo.list_transfers(reseller=scope.reseller)}
            rows = [_keep(row, current.get(row.did), kept) for row in rows]
            for row in rows:
                try:
                    valid.ring_total(visible[row.did], row.transfer_timeout, _lists(row), self.max_ring)
                except InputError as exc:
                    raise InputError(f"DID {row.did}: {exc}\nnothing imported") from None
        if not dry_run:
            with acting_as(scope.actor):
                await self.repo.set_transfers(rows)
        return len(rows)


def _lists(transfer: TransferRow) -> dict[str, str | None]:
    """A DID's forward lists by name, as stored."""
    return {name: getattr(transfer, name) for name in valid.FORWARDS}


def _keep(row: TransferRow, current: TransferRow | None, kept: set[str] | frozenset[str]) -> TransferRow:
    """An imported row with the `kept` fields (after_hours, schedule) as the DID has them now."""
    return dataclasses.replace(
        row,
        after_hours=current.after_hours if current and "after_hours" in kept else row.after_hours,
        schedule=current.schedule if current and "schedule" in kept else row.schedule,
    )
