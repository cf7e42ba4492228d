"""The call history and the change log, as the acting scope may see them."""

from __future__ import annotations

import contextlib
import dataclasses

from did_failover.admin import validation as valid
from did_failover.admin._accounts import AccountOperations
from did_failover.admin.scope import Scope, scoped
from did_failover.errors import InputError, NotFound
from did_failover.numbers import did_number
from did_failover.storage.records import CallRecord, ChangeRow

ACCOUNT_FIELDS = frozenset({"account", "reseller"})
"""Change-log fields whose values are account numbers."""
OUTSIDE = "(another tenant)"
"""What a change-log value shows in place of an account number outside the viewer's scope."""


def shown_account(value: str | None, visible: set[str | None]) -> str | None:
    """A change-log value of an ACCOUNT_FIELDS field as a viewer who may see `visible` sees it."""
    return value if value is None or value in visible else OUTSIDE


class HistoryOperations(AccountOperations):
    """The call history and the change log."""

    @scoped()
    async def list_calls(
        self,
        scope: Scope,
        *,
        did: str | None = None,
        account: str | None = None,
        since: str | None = None,
        limit: int = 50,
        every_owner: bool = False,
    ) -> list[CallRecord]:
        """The call history the scope sees, newest first. With `did` (and no `account`), only the
        calls of the DID's current owner unless `every_owner`: a number removed and added again, or
        moved, for another customer does not mix that customer's calls with the earlier owner's."""
        if account is not None:
            await self._account(scope, account, "account")
        if not 1 <= limit <= 100_000:
            raise InputError(f"{limit} is not a number of calls 1..100000", "limit")
        number = did_number(did, "did") if did is not None else None
        owner = account or scope.customer
        if number is not None and owner is None and not every_owner:
            with contextlib.suppress(NotFound):  # no owner now, or one out of scope: the scope's calls
                owner = (await self._did(scope, number))[1].number
        return await self.repo.list_calls(
            did=number,
            account=owner,
            reseller=scope.reseller,
            since=valid.parse_since(since) if since is not None else None,
            limit=limit,
        )

    @scoped()
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
        return [
            dataclasses.replace(row, old=shown_account(row.old, visible), new=shown_account(row.new, visible))
            if row.field in ACCOUNT_FIELDS
            else row
            for row in rows
        ]
