"""Who acts and what they may see: the Scope every management operation takes, and the checks it
opens with (`scoped`). The operations themselves: admin/service.py and the parts it composes."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from did_failover.errors import Forbidden, InputError, NotFound
from did_failover.numbers import account_number, did_number
from did_failover.storage.base import Repository
from did_failover.storage.records import AccountRow, DIDRow


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


S = TypeVar("S", bound="Scoped")
P = ParamSpec("P")
R = TypeVar("R")
Operation = Callable[Concatenate[S, "Scope", P], Awaitable[R]]

CHECKED: set[Callable[..., Any]] = set()
"""Every operation `scoped` wraps (the tests check that every public operation is one)."""


def scoped(customer_may: bool = True) -> Callable[[Operation[S, P, R]], Operation[S, P, R]]:
    """Run `check_scope(scope, customer_may)` before the operation: a scope that names no such
    account, or a customer where `customer_may` is False, is refused before anything is read."""

    def wrap(operation: Operation[S, P, R]) -> Operation[S, P, R]:
        @functools.wraps(operation)
        async def checked(self: S, scope: Scope, /, *args: P.args, **kwargs: P.kwargs) -> R:
            await self.check_scope(scope, customer_may)
            return await operation(self, scope, *args, **kwargs)

        CHECKED.add(checked)
        return checked

    return wrap


class Scoped:
    """What every part of the Service shares: the repository, the ring limit and the scope checks."""

    def __init__(self, repo: Repository, max_ring: int = 180) -> None:
        self.repo = repo
        self.max_ring = max_ring
        """DID_FAILOVER_MAX_RING_TOTAL: settings that could ring a caller longer are refused."""

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
