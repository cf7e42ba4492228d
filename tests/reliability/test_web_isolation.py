"""The web and API twins of test_reseller_isolation: over random account trees, a real
`did-failover web` process answers every page, POST and API request aimed at a foreign DID or
account with 404, shows each reseller and customer only its own, and the database stays as it was."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from did_failover.admin.service import OUTSIDE, Scope, Service
from did_failover.admin.users import hash_password
from did_failover.storage import CallRecord, ChangeRow, open_repository
from tests.plugins.web import log_in
from tests.reliability.test_reseller_isolation import Tree, _build, trees
from tests.support.db import TABLES, execute
from tests.support.net import free_port
from tests.support.serve import BIN

pytestmark = pytest.mark.slow  # property runs of tens of seconds: not in scripts/test --quick

PASSWORD = "isolation test passphrase"
_RUNS: list[tuple[int, int, list[str]]] = []
_HASH: list[str] = []


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One web process for every example (each example refills the database under it)."""
    folder = tmp_path_factory.mktemp("web-isolation")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    asyncio.run(_init(url))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    env.update(DID_FAILOVER_DATABASE_URL=url, DID_FAILOVER_WEB_LISTEN=f"127.0.0.1:{port}")
    # The webhooks each tree gets are only there to be reached for; nothing is to be sent to them.
    env.update(DID_FAILOVER_WEBHOOK_DELIVERY="false")
    with (folder / "web.log").open("wb") as log:
        process = subprocess.Popen([str(BIN), "web"], env=env, stdout=log, stderr=subprocess.STDOUT)
    site = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{site}/login", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield site, url
    finally:
        process.terminate()
        process.wait(15)


async def _init(url: str) -> None:
    async with open_repository(url, 5.0) as repo:
        await repo.init_schema()
    _HASH.append(await hash_password(PASSWORD))


async def _refill(url: str, tree: Tree) -> None:
    for table in (
        "webhooks",
        "web_sessions",
        "api_tokens",
        "users",
        "did_transfers",
        "dids",
        "accounts",
        "change_log",
        "call_log",
    ):
        execute(url, f"DELETE FROM {table}")
    async with open_repository(url, 5.0) as repo:
        await _build(Service(repo), tree)
        for reseller in tree.resellers:
            await repo.add_user(f"r{reseller}", "reseller", reseller, _HASH[0])
        for customer in tree.all_customers():
            await repo.add_user(f"c{customer}", "customer", customer, _HASH[0])
        await Service(repo).list_accounts(Scope())
        # a webhook of the admin's and one of each reseller's (made after the tree: no events)
        for owner in (None, *tree.resellers):
            await repo.add_webhook(
                f"http://192.0.2.1/{owner}", ["call.ended"], owner, secrets.token_hex(8), "t"
            )


def _webhooks_of(url: str, reseller: str | None) -> set[str]:
    """The ids of the webhooks a reseller owns (None: the admin's)."""
    rows = execute(url, "SELECT w.id, a.number FROM webhooks w LEFT JOIN accounts a ON a.id = w.reseller_id")
    return {str(i) for i, owner in rows if owner == reseller}


def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table but the sessions and tokens (logging in writes those)."""
    return {
        t: execute(url, f"SELECT * FROM {t} ORDER BY 1")
        for t in TABLES
        if t not in ("web_sessions", "api_tokens")
    }


def _login(site: str, username: str) -> tuple[httpx.Client, str]:
    return log_in(site, username, PASSWORD)


def _shown_dids(client: httpx.Client) -> set[str]:
    return set(re.findall(r'<a href="/dids/(\d+)">', client.get("/dids").text))


def _check(site: str, url: str, tree: Tree, pick: int) -> tuple[int, int, list[str]]:
    asyncio.run(_refill(url, tree))
    checked, refused, leaked = 0, 0, []
    users = [(f"r{r}", tree.dids_of(r), tree.customers_of(r)) for r in tree.resellers]
    customers = sorted(tree.all_customers())
    if customers:
        chosen = customers[pick % len(customers)]
        own = {
            did
            for dids in [*tree.resellers.values(), tree.direct]
            for c, ds in dids.items()
            if c == chosen
            for did in ds
        }
        users.append((f"c{chosen}", own, set()))
    every_account = tree.all_customers() | set(tree.resellers)
    for username, own_dids, own_accounts in users:
        client, csrf = _login(site, username)
        try:
            before = _dump(url)
            if _shown_dids(client) != own_dids:
                leaked.append(f"{username} is shown {sorted(_shown_dids(client))}, owns {sorted(own_dids)}")
            mine = _webhooks_of(url, username[1:]) if username.startswith("r") else set()
            if username.startswith("r"):
                shown = set(re.findall(r'action="/accounts/([^"]+)"', client.get("/accounts").text))
                if shown != own_accounts:
                    leaked.append(f"{username} is shown accounts {sorted(shown)}")
                hooks = set(re.findall(r'action="/webhooks/(\d+)/test"', client.get("/webhooks").text))
                if hooks != mine:
                    leaked.append(f"{username} is shown webhooks {sorted(hooks)}, owns {sorted(mine)}")
            elif client.get("/webhooks").status_code != 404:
                leaked.append(f"{username} (a customer) has a Webhooks page")
            attempts: list[tuple[str, str, dict[str, str] | None]] = []
            for did in sorted(tree.all_dids() - own_dids)[pick % 3 :][:4]:
                busy = {"csrf": csrf, "busy_type": "endpoint", "busy_destination": "mallory", "timeout": "30"}
                attempts += [
                    (f"/dids/{did}", "GET", None),
                    (f"/dids/{did}", "POST", busy),
                    (f"/dids/{did}/switch", "POST", {"csrf": csrf, "enabled": "off"}),
                ]
            for account in sorted(every_account - own_accounts)[pick % 3 :][:4]:
                attempts += [
                    (f"/accounts/{account}", "POST", {"csrf": csrf, "transfer": "off"}),
                    (f"/accounts/{account}", "POST", {"csrf": csrf, "active": "off"}),
                ]
            every_hook = {str(i) for (i,) in execute(url, "SELECT id FROM webhooks")}
            for hook in sorted(every_hook - mine):
                attempts += [
                    (f"/webhooks/{hook}/remove", "POST", {"csrf": csrf}),
                    (f"/webhooks/{hook}/test", "POST", {"csrf": csrf}),
                    (f"/webhooks/{hook}/rotate", "POST", {"csrf": csrf}),
                ]
            for path, method, data in attempts:
                checked += 1
                status = client.request(method, path, data=data).status_code
                if status == 404:
                    refused += 1
                else:
                    leaked.append(f"{username}: {method} {path} {data or ''} answered {status}")
                if _dump(url) != before:
                    leaked.append(f"{username}: {method} {path} changed the database")
                    before = _dump(url)
        finally:
            client.close()
    return checked, refused, leaked


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tree=trees(), pick=st.integers(0, 1000))
def test_no_web_user_reaches_outside_its_own(
    tree: Tree, pick: int, web: tuple[str, str], figures: Callable[..., None]
) -> None:
    """Resellers and a customer, logged in for real: the grid and the accounts page hold only their
    own; every GET and POST of a foreign DID or account is 404; the database is unchanged."""
    site, url = web
    attempts, refused, leaked = _check(site, url, tree, pick)
    _RUNS.append((attempts, refused, leaked))
    figures(
        trees=len(_RUNS),
        foreign_attempts=sum(run[0] for run in _RUNS),
        refused_404=sum(run[1] for run in _RUNS),
        leaked=sum(len(run[2]) for run in _RUNS),
    )
    assert not leaked and refused == attempts, leaked


_API_RUNS: list[tuple[int, int, list[str]]] = []


def _api_check(site: str, url: str, tree: Tree, pick: int) -> tuple[int, int, list[str]]:
    """The same trees through the REST API with each reseller's token: every foreign object at every
    endpoint and method is 404, lists hold only its own, the database does not change."""
    asyncio.run(_refill(url, tree))
    checked, refused, leaked = 0, 0, []
    with httpx.Client(base_url=site, timeout=10.0) as client:
        for reseller in tree.resellers:
            login = client.post("/api/v1/tokens", json={"username": f"r{reseller}", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            before = _dump(url)
            shown = {
                d["did"]
                for d in client.get("/api/v1/dids", headers=headers, params={"limit": 1000}).json()["items"]
            }
            if shown != tree.dids_of(reseller):
                leaked.append(f"r{reseller} lists {sorted(shown)}")
            accounts = {a["number"] for a in client.get("/api/v1/accounts", headers=headers).json()["items"]}
            if accounts != tree.customers_of(reseller):
                leaked.append(f"r{reseller} lists accounts {sorted(accounts)}")
            mine = _webhooks_of(url, reseller)
            hooks = {str(h["id"]) for h in client.get("/api/v1/webhooks", headers=headers).json()["items"]}
            if hooks != mine:
                leaked.append(f"r{reseller} lists webhooks {sorted(hooks)}, owns {sorted(mine)}")
            attempts: list[tuple[str, str, object]] = []
            for hook in sorted({str(i) for (i,) in execute(url, "SELECT id FROM webhooks")} - mine):
                attempts += [
                    ("GET", f"/api/v1/webhooks/{hook}", None),
                    ("DELETE", f"/api/v1/webhooks/{hook}", None),
                    ("POST", f"/api/v1/webhooks/{hook}/test", None),
                    ("POST", f"/api/v1/webhooks/{hook}/rotate", None),
                ]
            forward = {"enabled": True, "destination": "endpoint:mallory"}
            for did in sorted(tree.all_dids() - tree.dids_of(reseller))[pick % 3 :][:4]:
                attempts += [
                    ("GET", f"/api/v1/dids/{did}", None),
                    ("PATCH", f"/api/v1/dids/{did}", {"active": False}),
                    ("DELETE", f"/api/v1/dids/{did}", None),
                    ("GET", f"/api/v1/dids/{did}/forwards", None),
                    ("PUT", f"/api/v1/dids/{did}/forwards/busy", forward),
                    ("GET", f"/api/v1/calls?did={did}", None),
                ]
            every = tree.all_customers() | set(tree.resellers)
            for account in sorted(every - tree.customers_of(reseller))[pick % 3 :][:4]:
                attempts += [
                    ("GET", f"/api/v1/accounts/{account}", None),
                    ("PATCH", f"/api/v1/accounts/{account}", {"transfer": False}),
                    (
                        "POST",
                        "/api/v1/dids",
                        {"did": "15559000000", "account": account, "primary": "endpoint:x"},
                    ),
                    ("GET", f"/api/v1/changes?account={account}", None),
                ]
            for method, path, body in attempts:
                checked += 1
                status = client.request(method, path, headers=headers, json=body).status_code
                if status == 404 or (path.startswith("/api/v1/calls?did=") and status == 200):
                    refused += 1  # a foreign DID's call history is simply empty, as for any DID without calls
                else:
                    leaked.append(f"r{reseller}: {method} {path} answered {status}")
                if _dump(url) != before:
                    leaked.append(f"r{reseller}: {method} {path} changed the database")
                    before = _dump(url)
            calls = client.get("/api/v1/calls", headers=headers, params={"limit": 1000}).json()["items"]
            if any(c["did"] not in tree.dids_of(reseller) for c in calls):
                leaked.append(f"r{reseller} sees foreign calls")
    return checked, refused, leaked


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tree=trees(), pick=st.integers(0, 1000))
def test_no_api_token_reaches_outside_its_own(
    tree: Tree, pick: int, web: tuple[str, str], figures: Callable[..., None]
) -> None:
    """The API twin: each reseller's token, every foreign DID and account at every endpoint: 404."""
    site, url = web
    attempts, refused, leaked = _api_check(site, url, tree, pick)
    _API_RUNS.append((attempts, refused, leaked))
    figures(
        trees=len(_API_RUNS),
        foreign_requests=sum(run[0] for run in _API_RUNS),
        refused=sum(run[1] for run in _API_RUNS),
        leaked=sum(len(run[2]) for run in _API_RUNS),
    )
    assert not leaked and refused == attempts, leaked


# -- every listing and page, for every role ----------------------------------------------------------------


@dataclass
class History:
    """A tree with history: a call and a change per DID, and DIDs that moved between tenants."""

    tree: Tree
    owner: dict[str, str] = field(default_factory=dict)
    """Each DID's customer now."""
    calls: set[tuple[str, str]] = field(default_factory=set)
    """(DID, account recorded) of every call in the history."""

    def reseller_of(self, customer: str) -> str | None:
        return next((r for r, cs in self.tree.resellers.items() if customer in cs), None)

    def visible(self, username: str) -> set[str] | None:
        """The accounts a user may see (None: the admin, every one)."""
        if username == "admin":
            return None
        number = username[1:]
        return self.tree.customers_of(number) if username.startswith("r") else {number}

    def nameable(self, username: str) -> set[str] | None:
        """The account numbers a user may read on a row: those it sees, and its own reseller."""
        accounts = self.visible(username)
        if accounts is None:
            return None
        number = username[1:]
        reseller = number if username.startswith("r") else self.reseller_of(number)
        return accounts | ({reseller} if reseller else set())

    def dids_seen(self, username: str) -> set[str]:
        accounts = self.visible(username)
        return {d for d, c in self.owner.items() if accounts is None or c in accounts}


async def _history(url: str, tree: Tree) -> History:
    """The tree, then per DID a change marked with its owner (`endpoint:owner-N`) and a call from
    77N; then one DID moved to another customer and one removed and added again for another."""
    await _refill(url, tree)
    history = History(tree, {d: c for r in tree.resellers.values() for c, ds in r.items() for d in ds})
    history.owner.update({d: c for c, ds in tree.direct.items() for d in ds})
    admin = Scope(actor="cli:root")
    async with open_repository(url, 5.0) as repo:
        service = Service(repo)

        async def mark(did: str) -> None:
            customer = history.owner[did]
            await service.set_transfer(admin, did, no_answer=f"endpoint:owner-{customer}")
            started = datetime.now(UTC) - timedelta(minutes=len(history.calls) + 1)
            await repo.insert_call(CallRecord(started, did, "ANSWERED", customer, f"77{customer}"))
            history.calls.add((did, customer))

        for did in sorted(history.owner):
            await mark(did)
        customers = sorted(tree.all_customers())
        for position, did in enumerate(sorted(history.owner)[:2]):
            others = [c for c in customers if c != history.owner[did]]
            if not others:
                break
            target = others[-1 - position % len(others)]
            if position == 0:  # its settings go with it: cleared first, so that any owner-N seen is a leak
                await service.set_transfer(admin, did, no_answer="none")
                await service.set_did(admin, did, account=target)
            else:
                await service.remove_did(admin, did)
                await service.add_did(admin, did, target, "endpoint:alice")
            history.owner[did] = target
            await mark(did)
        await repo.add_user("admin", "admin", None, _HASH[0])
    return history


def _token(client: httpx.Client, username: str) -> dict[str, str]:
    login = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert login.status_code == 201, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _outside(values: set[str], accounts: set[str] | None) -> set[str]:
    return set() if accounts is None else values - accounts


def _listing_leaks(site: str, url: str, history: History, username: str) -> tuple[int, list[str]]:
    """Every listing of the API and every page for one user: what it shows outside its scope, and
    what of its own it does not show. Returns (listings read, problems)."""
    accounts, own_dids = history.visible(username), history.dids_seen(username)
    nameable = history.nameable(username)
    every = asyncio.run(_all_changes(url))
    expected_changes = {c.id for c in every if accounts is None or c.account in accounts}
    expected_calls = {c for c in history.calls if accounts is None or c[1] in accounts}
    read, problems = 0, []
    with httpx.Client(base_url=site, timeout=10.0) as client:
        headers = _token(client, username)

        def get(path: str, **params: object) -> dict[str, Any]:
            nonlocal read
            read += 1
            response = client.get(
                path, headers=headers, params={"limit": 1000 if path.endswith("/dids") else 100_000, **params}
            )
            assert response.status_code == 200, (path, params, response.text)
            return dict(response.json())

        def check_changes(items: list[dict[str, Any]], wanted: set[int], what: str) -> None:
            shown = {item["id"] for item in items}
            if shown != wanted:
                problems.append(
                    f"{username} {what}: {len(shown - wanted)} foreign, {len(wanted - shown)} missing"
                )
            for item in items:
                values = {v for v in (item["old"], item["new"]) if v}
                marked = {m for v in values for m in re.findall(r"owner-(\d+)", v)}
                named = values if item["field"] in ("account", "reseller") else set()
                leaked = _outside(marked, accounts) | _outside(named - {OUTSIDE}, nameable)
                if leaked:
                    problems.append(f"{username} {what}: change {item['id']} names {sorted(leaked)}")

        check_changes(get("/api/v1/changes")["items"], expected_changes, "changes")
        check_changes(get("/api/v1/changes", since="1d")["items"], expected_changes, "changes since 1d")
        check_changes(
            get("/api/v1/changes", actor="cli:root")["items"],
            {c.id for c in every if c.id in expected_changes and c.actor == "cli:root"},
            "changes by cli:root",
        )
        for did in sorted(history.owner):
            wanted = {c.id for c in every if c.id in expected_changes and c.did == did}
            check_changes(get("/api/v1/changes", did=did)["items"], wanted, f"changes of {did}")
            every_owner = get("/api/v1/calls", did=did, every_owner="true")["items"]
            calls = {(c["did"], c["account_number"]) for c in every_owner}
            if calls != {c for c in expected_calls if c[0] == did}:
                problems.append(f"{username} calls of {did}: {sorted(calls)}")
            # without every_owner: the current owner's calls only, so fewer, never others
            current = {(c["did"], c["account_number"]) for c in get("/api/v1/calls", did=did)["items"]}
            if not current <= calls:
                problems.append(f"{username} current owner's calls of {did}: {sorted(current)}")
        for account in sorted(accounts if accounts is not None else history.tree.all_customers()):
            wanted = {c.id for c in every if c.id in expected_changes and c.account == account}
            check_changes(get("/api/v1/changes", account=account)["items"], wanted, f"changes of {account}")
            calls = {(c["did"], c["account_number"]) for c in get("/api/v1/calls", account=account)["items"]}
            if calls != {c for c in expected_calls if c[1] == account}:
                problems.append(f"{username} calls of {account}: {sorted(calls)}")
        for params in ({}, {"since": "1d"}):
            calls = {(c["did"], c["account_number"]) for c in get("/api/v1/calls", **params)["items"]}
            if calls != expected_calls:
                problems.append(f"{username} calls {params}: {sorted(calls ^ expected_calls)} differ")
        for params in ({}, {"search": "1555"}, {"order": "account", "direction": "desc"}):
            dids = {d["did"] for d in get("/api/v1/dids", **params)["items"]}
            if dids != own_dids:
                problems.append(f"{username} DIDs {params}: {sorted(dids ^ own_dids)} differ")
        for params in ({}, {"search": "1555"}, {"order": "busy", "direction": "desc"}):
            # Two DIDs a page, by cursor from the first page forwards and from the last backwards.
            for start, link, edge in (({}, "next", "after"), ({"last": "true"}, "previous", "before")):
                page = get("/api/v1/dids", limit=2, **params, **start)
                seen = [d["did"] for d in page["items"]]
                while page[link]:
                    page = get("/api/v1/dids", limit=2, **params, **{edge: page[link]})
                    seen += [d["did"] for d in page["items"]]
                if sorted(seen) != sorted(own_dids):
                    problems.append(f"{username} DIDs {params} paged by {edge}: {sorted(seen)} differ")
        listed = {a["number"] for a in get("/api/v1/accounts")["items"]}
        if _outside(listed, accounts):
            problems.append(f"{username} accounts: {sorted(_outside(listed, accounts))} foreign")

    client, _ = _login(site, username)
    try:
        pages = ["/dids", "/dids?search=1555", "/dids?order=account&direction=desc", "/accounts"]
        pages += [f"/dids/{did}" for did in sorted(own_dids)]
        for path in pages:
            read += 1
            page = client.get(path)
            if page.status_code == 404 and path == "/accounts" and username.startswith("c"):
                continue  # a customer has no accounts page
            assert page.status_code == 200, (username, path, page.status_code)
            if path.startswith("/dids?") or path == "/dids":
                shown = set(re.findall(r'<a href="/dids/(\d+)">', page.text))
                if shown != own_dids:
                    problems.append(f"{username} {path}: {sorted(shown ^ own_dids)} differ")
            marked = set(re.findall(r"owner-(\d+)", page.text))
            marked |= set(re.findall(r"<td>77(\d+)</td>", page.text))
            marked |= set(re.findall(r'action="/accounts/([^"]+)"', page.text))
            named = set(re.findall(r"<td>(\d{3})</td>", page.text))
            leaked = _outside(marked, accounts) | _outside(named, nameable)
            if leaked:
                problems.append(f"{username} {path}: shows {sorted(leaked)}")
    finally:
        client.close()
    return read, problems


async def _all_changes(url: str) -> list[ChangeRow]:
    async with open_repository(url, 5.0) as repo:
        return await Service(repo).list_changes(Scope(), limit=100_000)


_LISTING_RUNS: list[tuple[int, int]] = []


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tree=trees())
def test_every_listing_and_page_shows_each_role_only_its_own(
    tree: Tree, web: tuple[str, str], figures: Callable[..., None]
) -> None:
    """The admin, each reseller and each customer, through the API and the pages: calls and changes
    (with and without each filter), DIDs (search, order), accounts, each own DID's page with its
    recent calls and changes. Each holds exactly the rows of the accounts the user may see, also for
    a DID that moved between tenants or was removed and added again for another; a moved DID's
    former account shows as "(another tenant)"."""
    site, url = web
    history = asyncio.run(_history(url, tree))
    users = ["admin", *(f"r{r}" for r in tree.resellers), *(f"c{c}" for c in sorted(tree.all_customers()))]
    read, problems = 0, []
    for username in users:
        count, found = _listing_leaks(site, url, history, username)
        read, problems = read + count, problems + found
    _LISTING_RUNS.append((read, len(problems)))
    figures(
        trees=len(_LISTING_RUNS),
        listings_read=sum(r for r, _ in _LISTING_RUNS),
        leaks=sum(p for _, p in _LISTING_RUNS),
    )
    assert not problems, problems
