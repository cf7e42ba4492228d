"""Accounts and their DIDs, as the acting scope may see and change them."""

from __future__ import annotations

from typing import get_args

from did_failover.admin import validation as valid
from did_failover.admin.loops import LoopGuard, hops
from did_failover.admin.scope import Scope, scoped
from did_failover.errors import Conflict, Forbidden, InputError, NotFound, NothingToChange
from did_failover.numbers import account_number, did_number
from did_failover.storage.base import acting_as
from did_failover.storage.records import (
    DEFAULT_RING_TIMEOUT,
    AccountRow,
    AccountType,
    DIDRow,
    default_transfer,
)

ACCOUNT_TYPES: tuple[AccountType, ...] = get_args(AccountType)


class AccountOperations(LoopGuard):
    """Accounts and DIDs."""

    @scoped(customer_may=False)
    async def add_account(
        self, scope: Scope, number: str, name: str, type: str, reseller: str | None = None
    ) -> AccountRow:
        """Create an account; a reseller scope may only create customers under itself."""
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

    @scoped(customer_may=False)
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
        if name is None and active is None and transfer is None:
            raise NothingToChange("name", "active", "transfer")
        name = None if name is None else valid.account_name(name)
        await self._account(scope, number)
        with acting_as(scope.actor):
            return await self.repo.update_account(number, name=name, active=active, transfer_enabled=transfer)

    @scoped()
    async def list_accounts(self, scope: Scope) -> list[AccountRow]:
        """Every account the scope sees."""
        if scope.customer is not None:
            return [await self._account(scope, scope.customer)]
        return await self.repo.list_accounts(reseller=scope.reseller)

    @scoped(customer_may=False)
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
        number = did_number(did)
        account_number(account, "account")
        primary = valid.destination(primary, "primary")
        valid.seconds(ring_timeout, "ring_timeout")
        valid.max_channels(max_channels)
        await self._customer(scope, account)
        if await self.repo.get_did(number) is not None:
            raise Conflict(f"DID {number} already exists")
        await self._refuse_loops(scope, {number: hops(primary)})
        with acting_as(scope.actor):
            return await self.repo.add_did(number, account, primary, ring_timeout, max_channels)

    @scoped(customer_may=False)
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
        if ring_timeout is not None or primary is not None:
            transfer = await self.repo.get_transfer(number) or default_transfer(number)
            if ring_timeout is not None:
                valid.transfer_ring_total(ring_timeout, transfer, self.max_ring)
            if primary is not None:
                await self._refuse_loops(scope, {number: hops(primary, transfer)})
        with acting_as(scope.actor):
            return await self.repo.update_did(
                number,
                account=account,
                primary=primary,
                ring_timeout=ring_timeout,
                max_channels=max_channels,
                active=active,
            )

    @scoped(customer_may=False)
    async def remove_did(self, scope: Scope, did: str) -> None:
        """Delete a DID and its transfer settings."""
        row, _ = await self._did(scope, did)
        with acting_as(scope.actor):
            await self.repo.remove_did(row.number)

    @scoped()
    async def list_dids(self, scope: Scope, account: str | None = None) -> list[DIDRow]:
        """The DIDs the scope sees, optionally of one account."""
        if account is not None:
            await self._account(scope, account, "account")
        return await self.repo.list_dids(account=account or scope.customer, reseller=scope.reseller)
