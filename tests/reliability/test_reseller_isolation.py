"""Reseller isolation as a property: over random account trees, no reseller-scoped command reads or changes
anything outside the reseller's own customers."""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from did_failover.admin.service import Scope, Service
from did_failover.errors import InputError
from did_failover.storage import open_repository
from tests.support.db import dump

pytestmark = pytest.mark.slow  # property runs of tens of seconds: not in scripts/test --quick

_RUNS: list[tuple[int, int, list[str]]] = []
"""Per example: foreign attempts, how many were refused, what leaked (attempts that reached data)."""


@dataclass
class Tree:
    """Resellers, each with customers, each with DIDs; plus customers that belong to no reseller."""

    resellers: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    direct: dict[str, list[str]] = field(default_factory=dict)

    def customers_of(self, reseller: str) -> set[str]:
        """The reseller's own customers."""
        return set(self.resellers[reseller])

    def dids_of(self, reseller: str) -> set[str]:
        """The DIDs of the reseller's customers."""
        return {did for dids in self.resellers[reseller].values() for did in dids}

    def all_dids(self) -> set[str]:
        """Every DID in the tree."""
        every = {did for r in self.resellers for did in self.dids_of(r)}
        return every | {did for dids in self.direct.values() for did in dids}

    def all_customers(self) -> set[str]:
        """Every customer account in the tree."""
        return {c for r in self.resellers for c in self.resellers[r]} | set(self.direct)


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    """1-3 resellers with 0-3 customers of 0-2 DIDs each, and 0-2 customers of the admin."""
    numbers = iter(range(100, 1000))
    dids = iter(range(15554000000, 15554999999))
    tree = Tree()
    for _ in range(draw(st.integers(1, 3))):
        reseller = str(next(numbers))
        tree.resellers[reseller] = {
            str(next(numbers)): [str(next(dids)) for _ in range(draw(st.integers(0, 2)))]
            for _ in range(draw(st.integers(0, 3)))
        }
    for _ in range(draw(st.integers(0, 2))):
        tree.direct[str(next(numbers))] = [str(next(dids)) for _ in range(draw(st.integers(0, 2)))]
    return tree


async def _build(service: Service, tree: Tree) -> None:
    admin = Scope()
    await service.init_db()
    for reseller, customers in tree.resellers.items():
        await service.add_account(admin, reseller, f"Reseller {reseller}", "reseller")
        for customer, dids in customers.items():
            await service.add_account(admin, customer, f"Customer {customer}", "customer", reseller)
            for did in dids:
                await service.add_did(admin, did, customer, "endpoint:alice")
                await service.set_transfer(admin, did, busy="pstn:15550001111")
    for customer, dids in tree.direct.items():
        await service.add_account(admin, customer, f"Customer {customer}", "customer")
        for did in dids:
            await service.add_did(admin, did, customer, "endpoint:alice")


def _foreign_attempts(
    service: Service, scope: Scope, tree: Tree, reseller: str, pick: int
) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    """Every command a reseller could aim at something that is not its own."""
    foreign_dids = sorted(tree.all_dids() - tree.dids_of(reseller))
    foreign_customers = sorted(tree.all_customers() - tree.customers_of(reseller))
    other_resellers = sorted(set(tree.resellers) - {reseller})
    own_dids = sorted(tree.dids_of(reseller))
    attempts: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("add a reseller", lambda: service.add_account(scope, "999", "X", "reseller")),
        ("add an admin", lambda: service.add_account(scope, "998", "X", "admin")),
    ]
    for target in [*foreign_customers, *other_resellers][pick % 7 :][:4] or []:
        attempts += [
            (f"rename {target}", lambda t=target: service.set_account(scope, t, name="taken")),
            (f"deactivate {target}", lambda t=target: service.set_account(scope, t, active=False)),
            (f"list DIDs of {target}", lambda t=target: service.list_dids(scope, t)),
            (
                f"add a DID to {target}",
                lambda t=target: service.add_did(scope, "15559000000", t, "endpoint:a"),
            ),
            (
                f"add a customer under {target}",
                lambda t=target: service.add_account(scope, "997", "X", "customer", t),
            ),
            (
                f"import a new DID into {target}",
                lambda t=target: service.import_csv(
                    scope,
                    "did,account,primary,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
                    f"15559000001,{t},endpoint:mallory,,,,,30,keep,on\n",
                ),
            ),
        ]
        if own_dids:
            own = own_dids[pick % len(own_dids)]
            attempts.append(
                (f"move {own} to {target}", lambda d=own, t=target: service.set_did(scope, d, account=t))
            )
    for did in foreign_dids[pick % 5 :][:4]:
        attempts += [
            (f"show {did}", lambda d=did: service.show_transfer(scope, d)),
            (f"set primary of {did}", lambda d=did: service.set_did(scope, d, primary="endpoint:mallory")),
            (f"set busy of {did}", lambda d=did: service.set_transfer(scope, d, busy="endpoint:mallory")),
            (f"remove {did}", lambda d=did: service.remove_did(scope, d)),
            (
                f"import a row for {did}",
                lambda d=did: service.import_csv(
                    scope,
                    "did,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
                    f"{d},,endpoint:mallory,,,30,keep,on\n",
                ),
            ),
        ]
        for customer in sorted(tree.customers_of(reseller))[:1]:  # a foreign number as new: taken
            attempts.append(
                (
                    f"import {did} as new into {customer}",
                    lambda d=did, c=customer: service.import_csv(
                        scope,
                        "did,account,primary,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
                        f"{d},{c},endpoint:mallory,,endpoint:mallory,,,30,keep,on\n",
                    ),
                )
            )
    return attempts


async def _customer_sees_only_its_own(service: Service, tree: Tree, customer: str) -> None:
    """Every listing a customer scope reads, CSV export included, holds its own DIDs and rows only."""
    scope = Scope(customer=customer)
    own = {d for r in tree.resellers.values() for d in r.get(customer, [])} | set(
        tree.direct.get(customer, [])
    )
    assert {a.number for a in await service.list_accounts(scope)} == {customer}
    assert {d.number for d in await service.list_dids(scope)} == own
    assert {v.did for v in await service.list_transfers(scope)} == own
    out = io.StringIO()
    await service.export_csv(scope, out)
    assert {line.split(",")[0] for line in out.getvalue().splitlines()[1:]} == own
    changes = await service.list_changes(scope, limit=100_000)
    assert {c.account for c in changes} <= {customer}
    assert {c.did for c in changes if c.subject == "did"} == own
    assert {c.account_number for c in await service.list_calls(scope, limit=100_000)} <= {customer}


async def _check(tree: Tree, pick: int) -> tuple[int, int, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'db.sqlite'}"
        repo = open_repository(url, 5.0)
        service = Service(repo)
        try:
            await _build(service, tree)
            for customer in tree.all_customers():
                await _customer_sees_only_its_own(service, tree, customer)
            before = dump(url)
            checked, refused, leaked = 0, 0, []
            for reseller in tree.resellers:
                scope = Scope(reseller)
                own_customers, own_dids = tree.customers_of(reseller), tree.dids_of(reseller)
                assert {a.number for a in await service.list_accounts(scope)} == own_customers
                assert {d.number for d in await service.list_dids(scope)} == own_dids
                assert {v.did for v in await service.list_transfers(scope)} == own_dids
                out = io.StringIO()
                await service.export_csv(scope, out)
                assert {line.split(",")[0] for line in out.getvalue().splitlines()[1:]} == own_dids
                for what, attempt in _foreign_attempts(service, scope, tree, reseller, pick):
                    checked += 1
                    try:
                        await attempt()
                    except InputError:
                        refused += 1
                    else:
                        leaked.append(f"reseller {reseller} could {what}: no error")
                    if dump(url) != before:
                        leaked.append(f"reseller {reseller} could {what}: the database changed")
                        before = dump(url)
            return checked, refused, leaked
        finally:
            await repo.close()


@settings(
    max_examples=25,
    deadline=None,
    # `figures` only accumulates counts, the same for every example.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tree=trees(), pick=st.integers(0, 1000))
def test_no_reseller_command_reaches_outside_its_own_customers(
    tree: Tree, pick: int, figures: Callable[..., None]
) -> None:
    """Lists, show, export and every write a reseller can aim at another reseller's or the admin's
    accounts and DIDs: the lists hold only its own customers, each foreign target is "not found", and
    the database is unchanged after each attempt."""
    attempts, refused, leaked = asyncio.run(_check(tree, pick))
    _RUNS.append((attempts, refused, leaked))
    figures(
        trees=len(_RUNS),
        foreign_attempts=sum(run[0] for run in _RUNS),
        refused=sum(run[1] for run in _RUNS),
        leaked=sum(len(run[2]) for run in _RUNS),
    )
    assert not leaked and refused == attempts, leaked
