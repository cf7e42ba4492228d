"""Webhook delivery when processes die or share the work: a `serve` killed (SIGKILL) mid-delivery and
started again redelivers what was not confirmed; two `serve` processes on one MariaDB deliver every
event, each normally once. Real processes, real receivers on loopback (allowed by the setting)."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
from collections.abc import Callable

from did_failover.admin.scope import Scope
from did_failover.admin.service import Service
from did_failover.storage import open_repository
from did_failover.storage.records import CallRecord
from did_failover.webhooks.delivery import CONFIRM_EVERY
from tests.plugins.servers import StartServe
from tests.plugins.webhooks import Receiver, StartReceiver
from tests.test_webhooks import call

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
SETTINGS = {"webhook_allow": "127.0.0.0/8", "webhook_timeout": "1"}
"""A short timeout, so that the killed server's hold (2 x timeout + 5 s) runs out soon."""
SHARED = {"webhook_allow": "127.0.0.0/8"}
"""The default timeout (5 s): a loaded machine's stall rarely turns an answer into a retry."""


async def _world(url: str, target: Receiver) -> None:
    async with open_repository(url, 5.0) as repo:
        await repo.init_schema()
        await repo.add_account("1001", "Customer", "customer", None)
        hook = await Service(repo, webhook_allow=LOOPBACK).add_webhook(Scope(), target.url(), "call.ended")
        target.trust(hook.secret)


async def _calls(url: str, rows: list[CallRecord]) -> None:
    async with open_repository(url, 5.0) as repo:
        await repo.insert_calls(rows)


def _order(target: Receiver) -> tuple[list[int], list[int]]:
    """The ids received, in the order received, and each one's first arrival in order."""
    ids = [int(r["id"]) for r in target.events()]
    return ids, list(dict.fromkeys(ids))


async def test_serve_killed_mid_delivery_redelivers_what_was_not_confirmed(
    repo_url: str, serve: StartServe, receiver: StartReceiver, figures: Callable[..., None]
) -> None:
    """The receiver takes 0.6 s a request; the server is SIGKILLed while it waits for an answer and
    started again: the new process takes the subscription once the dead one's hold runs out (2 x
    timeout + 5 s) and sends on from the first event whose confirmation was not written (at most a
    second's worth before the one in flight). Every event arrives, in order."""
    target = await receiver(delay=0.6)
    await _world(repo_url, target)
    server = await serve(repo_url, **SETTINGS)
    await _calls(repo_url, [call("15550001", "1001", n) for n in range(12)])
    await target.wait_for(3)
    await asyncio.sleep(0.3)  # the 4th request is on its way
    server.signal(signal.SIGKILL)
    await server.wait()
    killed_at = len(target.events())
    await server.start()
    async with asyncio.timeout(60):
        while len(_order(target)[1]) < 12:
            await asyncio.sleep(0.1)
    ids, first = _order(target)
    figures(events=12, requests=len(ids), repeats=len(ids) - len(first), received_before_kill=killed_at)
    assert first == sorted(first) and len(first) == 12
    assert all(r["verified"] for r in target.events())
    assert {r["body"]["data"]["uniqueid"] for r in target.events()} == {f"call-{n}" for n in range(12)}
    # the request the dead process was waiting on, and those it had not yet written as confirmed
    assert len(ids) - len(first) <= CONFIRM_EVERY


async def test_two_servers_deliver_every_event_normally_once(
    mysql_url: str, serve: StartServe, receiver: StartReceiver, figures: Callable[..., None]
) -> None:
    """Two servers over one MariaDB, 200 calls written in 20 batches while both run: each event is
    delivered (at least once), in id order; the repeats are counted."""
    target = await receiver()
    await _world(mysql_url, target)
    first_server = await serve(mysql_url, **SHARED)
    second_server = await serve(mysql_url, **SHARED)
    for batch in range(20):
        await _calls(mysql_url, [call("15550001", "1001", batch * 10 + n) for n in range(10)])
        await asyncio.sleep(0.05)
    await target.wait_for(200, timeout=60)
    await asyncio.sleep(1.5)  # time for a repeat to show up, were there one
    ids, first = _order(target)
    servers = (first_server, second_server)
    failures_logged = {
        server.pid: sum(1 for line in server.lines() if line.get("event") == "webhook delivery failed")
        for server in servers
    }
    requests = {
        result: [await s.metric("did_failover_webhook_requests_total", result=result) for s in servers]
        for result in ("delivered", "failed")
    }
    figures(
        events=200,
        requests=len(ids),
        repeats=len(ids) - len(first),
        failures_logged=failures_logged,
        delivered_per_server=requests["delivered"],
        failed_per_server=requests["failed"],
    )
    assert len(first) == 200 and first == sorted(first)
    assert {r["body"]["data"]["uniqueid"] for r in target.events()} == {f"call-{n}" for n in range(200)}
    assert all(r["verified"] for r in target.events())
    # One holder at a time: each event answered 2xx exactly once, whichever server sent it. Two
    # holders at once would both get a 2xx for the same event.
    assert sum(requests["delivered"]) == 200
    # A repeat only follows a request that failed (an answer later than the timeout, the receiver
    # having written it): normally none.
    assert len(ids) - len(first) <= sum(requests["failed"])
