"""Webhook delivery on both back ends, to real receiver processes on loopback (allowed by the
setting): signed Standard Webhooks requests verified with the `standardwebhooks` package, in id order,
at least once; a receiver down receives everything once back; scope as a property."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from did_failover.admin.scope import Scope
from did_failover.admin.service import Service
from did_failover.errors import Forbidden, InputError, NotFound
from did_failover.storage import Repository, open_repository
from did_failover.storage import _webhooks as webhook_storage
from did_failover.storage.base import acting_as
from did_failover.storage.records import Attempt, CallRecord
from did_failover.storage.webhook_records import WebhookRow
from did_failover.webhooks import delivery as delivery_module
from did_failover.webhooks import signing
from did_failover.webhooks.delivery import WebhookDelivery, is_failing, retry_pause
from did_failover.webhooks.post import Poster, post
from tests.plugins.webhooks import StartReceiver
from tests.support.db import execute

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
RESELLERS = {"100": ["1001", "1002"], "200": ["2001"]}
DIRECT = "3001"


@pytest.fixture
async def repo(repo_url: str) -> AsyncIterator[Repository]:
    async with open_repository(repo_url, 5.0) as repository:
        await repository.init_schema()
        for reseller, customers in RESELLERS.items():
            await repository.add_account(reseller, f"Reseller {reseller}", "reseller", None)
            for customer in customers:
                await repository.add_account(customer, f"Customer {customer}", "customer", reseller)
        await repository.add_account(DIRECT, "Direct", "customer", None)
        yield repository


@pytest.fixture
def service(repo: Repository) -> Service:
    return Service(repo, webhook_allow=LOOPBACK, webhook_timeout=2.0)


@pytest.fixture(autouse=True)
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look for new events every 0.1 s instead of every second (the tests' only shortcut)."""
    monkeypatch.setattr(delivery_module, "POLL", 0.1)


@pytest.fixture
async def deliver(repo: Repository) -> AsyncIterator[WebhookDelivery]:
    # 10 s: a CI machine that stalls this process for 2 s must not turn an answer into a retry
    worker = WebhookDelivery(repo, 10.0, LOOPBACK)
    worker.start()
    yield worker
    await worker.close()


def first_arrivals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with each webhook-id's repeats dropped, as a receiver does."""
    first: dict[str, dict[str, Any]] = {}
    for record in records:
        first.setdefault(record["id"], record)
    return list(first.values())


def call(did: str, account: str, n: int) -> CallRecord:
    start = datetime(2026, 12, 6, 12, 0, tzinfo=UTC) + timedelta(seconds=n)
    return CallRecord(
        started_at=start,
        did=did,
        result="FORWARDED",
        account_number=account,
        caller=f"+1555000{n:04d}",
        primary_destination="endpoint:desk",
        primary_dialstatus="BUSY",
        transfer_condition="BUSY",
        transfer_destination="pstn:+4930999",
        transfer_dialstatus="ANSWER",
        ended_at=start + timedelta(seconds=30),
        billsec=20,
        uniqueid=f"call-{n}",
        attempts=(
            Attempt("PRIMARY", 0, "endpoint:desk", "BUSY"),
            Attempt("BUSY", 1, "pstn:+4930999", "ANSWER"),
        ),
    )


async def failed_once(repo: Repository, webhook_id: int) -> WebhookRow:
    """The subscription once a delivery to it has failed (within 10 s)."""
    async with asyncio.timeout(10):
        while True:
            row = await repo.get_webhook(webhook_id)
            if row is not None and row.attempts:
                return row
            await asyncio.sleep(0.1)


async def test_signed_events_in_order(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    """A call and a change reach the admin's subscription signed (verified by `standardwebhooks`),
    with every leg, the actor and the old and new values, in increasing id order."""
    target = await receiver()
    hook = await service.add_webhook(Scope(actor="cli:root"), target.url(), "call.ended,change.made")
    target.trust(hook.secret)
    with acting_as("cli:alice"):
        await repo.add_did("15550001", "1001", "endpoint:desk", 30, 0)
        await repo.update_did("15550001", ring_timeout=25)
    await repo.insert_calls([call("15550001", "1001", 1)])
    got = await target.wait_for(1, "call.ended")
    records = target.events()
    assert all(r["verified"] for r in records), records
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(set(ids))
    ended = got[0]["body"]
    assert ended["data"]["did"] == "15550001"
    assert ended["data"]["legs"] == "PRIMARY endpoint:desk BUSY|BUSY#1 pstn:+4930999 ANSWER"
    assert ended["timestamp"].startswith("2026-12-06T12:00:31")
    changes = [r["body"]["data"] for r in target.events("change.made")]
    ring = [c for c in changes if c["field"] == "ring_timeout" and c["action"] == "set"]
    assert ring == [
        {**ring[0], "actor": "cli:alice", "did": "15550001", "old": "30", "new": "25", "subject": "did"}
    ]
    assert {c["actor"] for c in changes} == {"cli:alice"}


async def test_events_it_does_not_ask_for_are_not_sent(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    target = await receiver()
    hook = await service.add_webhook(Scope(), target.url(), ["call.ended"])
    target.trust(hook.secret)
    await repo.add_did("15550002", "1001", "endpoint:desk", 30, 0)
    await repo.insert_calls([call("15550002", "1001", 2)])
    await target.wait_for(1)
    await asyncio.sleep(0.5)
    assert [r["body"]["type"] for r in target.events()] == ["call.ended"]
    # ... and the cursor is past the change events it skipped: nothing is left behind
    views = await service.list_webhooks(Scope())
    assert views[0].backlog.events == 0


async def test_receiver_down_gets_everything_once_back_in_order(
    repo: Repository,
    service: Service,
    receiver: StartReceiver,
    deliver: WebhookDelivery,
    repo_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Down: the subscription pauses (growing pauses, shown in the list, with how far behind: a lower
    bound past the events it counts); back (the pause run out, simulated by moving
    next_attempt_at): every event arrives, in order, each once."""
    target = await receiver()
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    target.trust(hook.secret)
    await target.stop()
    await repo.insert_calls([call("15550003", "1001", n) for n in range(40)])
    await failed_once(repo, hook.id)
    view = (await service.list_webhooks(Scope()))[0]
    assert view.status == "retrying"
    assert view.row.last_error is not None and "cannot connect" in view.row.last_error
    assert (view.backlog.events, view.behind, view.as_dict()["behind_exact"]) == (40, "40", True)
    with monkeypatch.context() as patched:
        patched.setattr(webhook_storage, "BACKLOG_SCAN", 25)  # instead of numbering 10,000 events
        capped = (await service.list_webhooks(Scope()))[0]
    assert (capped.backlog.events, capped.behind, capped.as_dict()["behind_exact"]) == (25, "25+", False)
    assert capped.backlog.oldest == view.backlog.oldest
    assert view.row.next_attempt_at is not None and view.row.next_attempt_at > datetime.now(UTC)
    await target.start()
    execute(repo_url, "UPDATE webhooks SET next_attempt_at = NULL")  # the pause is over
    got = await target.wait_for(40)
    await asyncio.sleep(0.3)
    got = target.events()
    assert [r["body"]["data"]["uniqueid"] for r in got] == [f"call-{n}" for n in range(40)]
    assert all(r["verified"] for r in got)
    assert (await service.list_webhooks(Scope()))[0].status == "ok"


async def test_a_ping_answered_ends_the_pause(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    """`webhook test` after fixing the receiver: the ping is signed, and delivery resumes at once."""
    target = await receiver()
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    target.trust(hook.secret)
    await target.stop()
    await repo.insert_calls([call("15550004", "1001", 1)])
    await failed_once(repo, hook.id)
    await target.start()
    _, problem = await service.test_webhook(Scope(), hook.id)
    assert problem is None
    pings = [r for r in target.records() if r["body"]["type"] == "ping"]
    assert pings and pings[0]["verified"]
    await target.wait_for(1, "call.ended", timeout=10)


async def test_a_receiver_that_refuses_is_retried(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    target = await receiver(status=500)
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    target.trust(hook.secret)
    await repo.insert_calls([call("15550005", "1001", 1)])
    await target.wait_for(1)
    row = await failed_once(repo, hook.id)
    assert row.last_error == "HTTP 500" and row.delivered_seq == 0


async def test_a_redirect_is_not_followed(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    target = await receiver(status=302)
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    await repo.insert_calls([call("15550006", "1001", 1)])
    await target.wait_for(1)
    assert (await failed_once(repo, hook.id)).last_error == "HTTP 302: a redirect, not followed"


def test_retry_pauses_grow_and_failing_after_a_day() -> None:
    pauses = [retry_pause(n) for n in range(1, 10)]
    assert 4.5 <= pauses[0] <= 5.5 and 3240 <= pauses[-1] <= 3960
    assert all(b > a * 0.8 for a, b in itertools.pairwise(pauses))
    assert sum(delivery_module.RETRY_PAUSES) < 24 * 3600  # growing pauses fill the first day
    now = datetime.now(UTC)
    assert not is_failing_since(now - timedelta(hours=23), now)
    assert is_failing_since(now - timedelta(hours=24), now)


def is_failing_since(since: datetime, now: datetime) -> bool:
    row = WebhookRow(
        1,
        "http://x",
        ("call.ended",),
        None,
        "s",
        None,
        None,
        "",
        now,
        0,
        None,
        3,
        None,
        since,
        "x",
        None,
        None,
    )
    return is_failing(row, now)


async def test_failing_after_a_day_shows_in_the_list(
    repo: Repository, service: Service, receiver: StartReceiver, repo_url: str
) -> None:
    target = await receiver()
    await service.add_webhook(Scope(), target.url(), "call.ended")
    day_ago = (datetime.now(UTC) - timedelta(hours=25)).strftime("%Y-%m-%d %H:%M:%S")
    execute(repo_url, "UPDATE webhooks SET attempts = 12, failing_since = ?", (day_ago,))
    assert (await service.list_webhooks(Scope()))[0].status == "failing"


# -- scope ----------------------------------------------------------------------------------------------

CUSTOMERS = [*RESELLERS["100"], *RESELLERS["200"], DIRECT]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owners=st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=12))
async def test_each_subscription_gets_only_its_scope(
    repo: Repository, service: Service, receiver: StartReceiver, owners: list[str]
) -> None:
    """The admin's subscription gets every event, a reseller's only its customers' calls and changes:
    exactly the expected set, so a subscription that got one event more (scope dropped) fails."""
    for hook in await repo.list_webhooks():
        await repo.remove_webhook(hook.id)
    targets = {}
    for owner in ("admin", "100", "200"):
        target = await receiver()
        scope = Scope() if owner == "admin" else Scope(reseller=owner)
        hook = await service.add_webhook(scope, target.url(), "call.ended,change.made")
        target.trust(hook.secret)
        targets[owner] = target
    start = len(await repo.list_dids())
    expected: dict[str, list[str]] = {"admin": [], "100": [], "200": []}
    for n, owner in enumerate(owners):
        number = f"1666{start + n:07d}"
        await repo.add_did(number, owner, "endpoint:desk", 30, 0)
        await repo.insert_calls([call(number, owner, 1000 * start + n)])
        reseller = next((r for r, cs in RESELLERS.items() if owner in cs), None)
        for who in ("admin", reseller):
            if who is not None:
                expected[who].append(number)
    worker = WebhookDelivery(repo, 10.0, LOOPBACK)
    worker.start()
    try:
        for owner, target in targets.items():
            await target.wait_for(len(expected[owner]), "call.ended")
        await asyncio.sleep(0.3)
    finally:
        await worker.close()
    for owner, target in targets.items():
        # Delivery is at least once: an answer that came while this process stalled past the timeout
        # (a loaded CI machine) is sent again, with the same id. A receiver drops the repeat by its
        # id, as the README says; an event outside the scope has an id of its own and still fails.
        calls = [r["body"]["data"]["did"] for r in first_arrivals(target.events("call.ended"))]
        changed = {r["body"]["data"]["did"] for r in target.events("change.made")}
        assert calls == expected[owner], owner
        assert changed == set(expected[owner]), owner
        assert all(r["verified"] for r in target.records())


async def test_a_reseller_sees_foreign_accounts_as_another_tenant(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    """A DID moved in from another reseller's customer: the reseller's change.made names where it came
    from as "(another tenant)", as its change log does."""
    target = await receiver()
    hook = await service.add_webhook(Scope(reseller="100"), target.url(), "change.made")
    target.trust(hook.secret)
    await repo.add_did("15550007", "2001", "endpoint:desk", 30, 0)
    await repo.update_did("15550007", account="1001")
    moved = [
        r["body"]["data"]
        for r in await target.wait_for(1, "change.made")
        if r["body"]["data"]["field"] == "account"
    ]
    assert moved and moved[0]["old"] == "(another tenant)" and moved[0]["new"] == "1001"


# -- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "events", "message"),
    [
        (
            "ftp://127.0.0.1/x",
            "call.ended",
            "url: must start with http:// or https://, got 'ftp://127.0.0.1/x'",
        ),
        ("http://10.1.2.3/x", "call.ended", "url: 10.1.2.3 is a private address; webhooks reach only"),
        ("http://169.254.169.254/latest", "call.ended", "url: 169.254.169.254 is a link-local address"),
        ("http://[::1]:8080/x", "call.ended", "url: ::1 is a loopback address"),
        ("http://user:pw@127.0.0.1/x", "call.ended", "url: must not hold a user name or password"),
        ("http://127.0.0.1/x", "call.started", "events: unknown event 'call.started': the events are"),
        ("http://127.0.0.1/x", "", "events: name at least one event: call.ended, change.made"),
        ("http://no-such-host.invalid/x", "call.ended", "url: host no-such-host.invalid does not resolve"),
    ],
)
async def test_refusals(repo: Repository, url: str, events: str, message: str) -> None:
    service = Service(repo, webhook_allow=(ipaddress.ip_network("127.0.0.0/8"),))
    with pytest.raises(InputError) as refused:
        await service.add_webhook(Scope(), url, events)
    assert str(refused.value).startswith(message)
    assert await repo.list_webhooks() == []


async def test_loopback_refused_unless_allowed(repo: Repository) -> None:
    with pytest.raises(InputError, match=r"url: 127\.0\.0\.1 is a loopback address"):
        await Service(repo).add_webhook(Scope(), "http://127.0.0.1:9/x", "call.ended")


async def test_a_foreign_reseller_and_another_resellers_webhook(repo: Repository, service: Service) -> None:
    with pytest.raises(InputError, match="as_reseller: there is no reseller account 999"):
        await service.add_webhook(Scope(reseller="999"), "http://127.0.0.1/x", "call.ended")
    hook = await service.add_webhook(Scope(reseller="200"), "http://127.0.0.1/x", "call.ended")
    for act in (service.remove_webhook, service.test_webhook):
        with pytest.raises(InputError, match=f"webhook {hook.id} not found"):
            await act(Scope(reseller="100"), hook.id)
    assert [v.row.id for v in await service.list_webhooks(Scope(reseller="100"))] == []
    assert [v.row.id for v in await service.list_webhooks(Scope(reseller="200"))] == [hook.id]
    assert [v.row.id for v in await service.list_webhooks(Scope())] == [hook.id]
    with pytest.raises(InputError, match="a customer user may"):
        await service.list_webhooks(Scope(customer="1001"))


async def test_a_replay_is_refused_by_a_receiver_that_checks_the_timestamp(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    """A delivered request, captured and sent again six minutes later: with its own timestamp the
    receiver's `standardwebhooks` refuses it as too old; with the timestamp made fresh, the signature
    no longer matches. The request as delivered verified."""
    target = await receiver()
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    target.trust(hook.secret)
    await repo.insert_calls([call("15550008", "1001", 1)])
    (delivered,) = await target.wait_for(1)
    assert delivered["verified"]
    body = json.dumps(delivered["body"], separators=(",", ":")).encode()
    captured = int(delivered["timestamp"]) - 6 * 60  # as if captured six minutes ago
    stale = signing.headers([hook.secret], delivered["id"], captured, body)
    fresh = {**stale, "webhook-timestamp": str(int(time.time()))}
    for headers in (stale, fresh):
        assert await post(target.url(), headers, body, 2.0, LOOPBACK) is None  # this receiver answers 204
    replays = target.events()[1:]
    assert [r["verified"] for r in replays] == [False, False]
    assert "too old" in replays[0]["error"] and "No matching signature" in replays[1]["error"]


async def test_one_connection_carries_a_run_of_deliveries(
    repo: Repository, service: Service, receiver: StartReceiver, deliver: WebhookDelivery
) -> None:
    """30 events at once go over one connection (HTTP/1.1 keep-alive), not one connection each."""
    target = await receiver()
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    target.trust(hook.secret)
    await repo.insert_calls([call("15550009", "1001", n) for n in range(30)])
    got = await target.wait_for(30)
    assert len({r["peer_port"] for r in got}) <= 2  # one run, or two if a tick split it


@contextlib.asynccontextmanager
async def stand_in(answer: bytes) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A socket server standing in for a receiver where a real one cannot be made to misbehave: it
    reads each request whole, writes `answer` as it is and closes the connection without saying so.
    Yields its URL and the heads of the requests it served."""
    served: list[bytes] = []

    async def answer_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        fields = (line.partition(b":") for line in head.split(b"\r\n"))
        await reader.readexactly(int(next(v for k, _, v in fields if k.lower() == b"content-length")))
        served.append(head)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_and_close, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook", served
    finally:
        server.close()


async def test_a_connection_closed_while_idle_is_opened_again_at_once() -> None:
    """A receiver that closes the connection after each answer without saying so (as a keep-alive
    timeout does): the next request finds it closed and goes out on a new one, not as a failure.
    A socket server stands in: a real receiver closes idle connections only after its own timeout."""
    async with stand_in(b"HTTP/1.1 204 No Content\r\n\r\n") as (url, served):
        poster = Poster(url, 2.0, LOOPBACK)
        try:
            for _ in range(3):
                assert await poster.post({"webhook-id": "1"}, b"{}") is None
                await asyncio.sleep(0.05)
        finally:
            poster.close()
    assert (len(served), poster.connections) == (3, 3)


@pytest.mark.parametrize(
    "answer", [b"HTTP/1.1 \xb204 No Content\r\n\r\n", b"HTTP/1.1 204\r\nContent-Length: \xb2\r\n\r\n"]
)
async def test_a_status_or_length_of_other_digits_is_a_failure_not_a_crash(answer: bytes) -> None:
    """`²` (0xB2 in the Latin-1 an answer is read in) passes `str.isdigit`: a receiver answering it
    as its status gets a one-line failure, and the subscription its pause, instead of a ValueError
    that ended the delivery task. As a Content-Length it makes the answer's body unread, so the
    connection is not kept."""
    async with stand_in(answer) as (url, _):
        result = await post(url, {"webhook-id": "1"}, b"{}", 2.0, LOOPBACK)
    if answer.startswith(b"HTTP/1.1 \xb2"):
        assert result == "the answer is not HTTP"
    else:
        assert result is None


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    repo: Repository,
    service: Service,
    receiver: StartReceiver,
    deliver: WebhookDelivery,
    repo_url: str,
) -> None:
    """After `rotate` each request carries two signatures (Standard Webhooks' way to rotate): a
    receiver still on the old secret and one already on the new both accept it. Once the day is over
    (simulated by moving previous_until), only the new secret signs: the old one is refused."""
    target = await receiver()
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    target.trust(hook.secret)
    rotated = await service.rotate_webhook(Scope(), hook.id)
    assert rotated.secret != hook.secret and rotated.previous_secret == hook.secret
    assert rotated.previous_until is not None
    assert rotated.previous_until - datetime.now(UTC) > timedelta(hours=23, minutes=59)
    shown = (await service.show_webhook(Scope(), hook.id)).as_dict()
    assert shown["previous_secret_until"] is not None and "secret" not in shown

    await repo.insert_calls([call("15550010", "1001", 1)])  # the receiver still on the old secret
    await target.wait_for(1)
    target.trust(rotated.secret)  # ... and now on the new one
    await repo.insert_calls([call("15550010", "1001", 2)])
    await target.wait_for(2)
    assert [r["verified"] for r in target.events()] == [True, True]

    execute(repo_url, "UPDATE webhooks SET previous_until = ?", ("2026-01-01 00:00:00",))  # a day later
    assert (await service.show_webhook(Scope(), hook.id)).as_dict()["previous_secret_until"] is None
    await repo.insert_calls([call("15550010", "1001", 3)])
    await target.wait_for(3)
    target.trust(hook.secret)  # a receiver that never switched
    await repo.insert_calls([call("15550010", "1001", 4)])
    got = await target.wait_for(4)
    assert [r["verified"] for r in got] == [True, True, True, False]
    assert "No matching signature" in got[3]["error"]


async def test_only_the_owner_may_rotate_and_a_second_rotation_drops_the_first_secret(
    repo: Repository, service: Service
) -> None:
    hook = await service.add_webhook(Scope(reseller="200"), "http://127.0.0.1:9/a", "call.ended")
    with pytest.raises(NotFound):
        await service.rotate_webhook(Scope(reseller="100"), hook.id)
    with pytest.raises(Forbidden):
        await service.rotate_webhook(Scope(customer="2001"), hook.id)
    assert (await repo.get_webhook(hook.id)) == hook  # unchanged
    first = await service.rotate_webhook(Scope(reseller="200"), hook.id)
    second = await service.rotate_webhook(Scope(), hook.id)
    assert second.previous_secret == first.secret and hook.secret not in second.secrets(datetime.now(UTC))
