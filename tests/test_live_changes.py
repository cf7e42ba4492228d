"""A change reaches the next call on every running server: two real `serve` processes on the real
MariaDB, one of them taking real calls from the Asterisk test bed, the other played by the fake
Asterisk. The cache TTL is 300 s here, so only the change watcher can explain a fresh route."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time

from fastagi.client import call, environment
from tests.plugins.servers import StartServe
from tests.support.channels import FakeChannel
from tests.support.db import execute
from tests.support.net import TcpProxy
from tests.support.ops import cli
from tests.support.serve import ServeProcess
from tests.testbed.asterisk import AGI_PORT, Ami, CallOutcome

CUSTOMER = "2001"
AFTER = 1.5
"""Seconds between a change and the calls that must follow it (the watcher polls every second)."""
_callers = itertools.count(15553900000)


def _cli_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    return {**env, "DID_FAILOVER_DATABASE_URL": database_url, "SUDO_USER": "alice"}


async def _serve(serve: StartServe, database_url: str, port: int | None = None) -> ServeProcess:
    return await serve(database_url, port=port, cache_ttl=300, grace_period=1)


async def _cli(url: str, *args: str) -> str:
    code, out, err = await cli(_cli_env(url), *args)
    assert (code, err) == (0, ""), (args, out, err)
    return out


async def _forwarding_did(url: str, did: str) -> None:
    """A DID whose primary is busy and whose BUSY goes to the test bed's answering endpoint."""
    await _cli(
        url, "did", "add", did, "--account", CUSTOMER, "--primary", "endpoint:busy", "--ring-timeout", "2"
    )
    await _cli(url, "transfer", "set", did, "--busy", "endpoint:answer", "--timeout", "2", "--on")


async def _world(url: str, *dids: str) -> None:
    await _cli(url, "db", "init")
    await _cli(url, "account", "add", CUSTOMER, "--name", "Acme", "--type", "customer")
    for did in dids:
        await _forwarding_did(url, did)


async def _real_call(ami: Ami, did: str) -> tuple[CallOutcome, list[str]]:
    """A call through Asterisk to the server on the test bed's AGI port: outcome, destinations reached."""
    caller = str(next(_callers))
    placed = await ami.originate(did, caller)
    outcome = await ami.wait_outcome(placed, timeout=30)
    reached = [
        e["Dest"] for e in ami.matching("UserEvent", UserEvent="DestReached") if e.get("CallerID") == caller
    ]
    return outcome, reached


async def _fake_call(port: int, did: str) -> tuple[str | None, list[str]]:
    """A call played by the fake Asterisk, primary busy: the result set and every Dial sent."""
    seen = await call(
        "127.0.0.1", port, environment("did-failover", args=[did]), FakeChannel("BUSY,17", "ANSWER,16")
    )
    dials = [c for c in seen.commands if c.startswith("EXEC Dial")]
    results = [
        c.split("DID_FAILOVER_RESULT=", 1)[1].split(",", 1)[0] for c in seen.commands if "RESULT=" in c
    ]
    return (results[-1] if results else None), dials


async def _wait_after(changed: float) -> None:
    await asyncio.sleep(max(0.0, changed + AFTER - time.monotonic()))


async def test_a_cli_change_reaches_the_next_call_on_every_server(
    mysql_url: str, serve: StartServe, ami: Ami
) -> None:
    """`transfer set --off` on the CLI: 1.5 s later a busy call is no longer forwarded, on a server
    taking real calls and on a second one, and `changes --did` says who changed what."""
    did = "15553900001"
    await _world(mysql_url, did)
    first = await _serve(serve, mysql_url, AGI_PORT)
    second = await _serve(serve, mysql_url)
    outcome, reached = await _real_call(ami, did)
    assert ((outcome.result, outcome.leg), reached) == (("ANSWERED", "BUSY"), ["busy", "answer"])
    result, dials = await _fake_call(second.port, did)
    assert (result, len(dials)) == ("ANSWERED", 2)

    await _cli(mysql_url, "transfer", "set", did, "--off")
    await _wait_after(time.monotonic())
    outcome, reached = await _real_call(ami, did)
    assert ((outcome.result, outcome.leg, outcome.dialstatus), reached) == (
        ("BUSY", "PRIMARY", "BUSY"),
        ["busy"],
    )
    result, dials = await _fake_call(second.port, did)
    assert (result, len(dials)) == ("BUSY", 1)

    changes = json.loads(await _cli(mysql_url, "changes", "--did", did, "--json"))
    newest = {
        key: changes[0][key] for key in ("actor", "action", "subject", "field", "old", "new", "account")
    }
    assert newest == {
        "actor": "cli:alice",
        "action": "set",
        "subject": "transfer",
        "field": "transfer",
        "old": "true",
        "new": "false",
        "account": CUSTOMER,
    }
    assert all(c["did"] == did for c in changes)
    for process in (first, second):
        assert await process.metric("did_failover_changes_applied_total") >= 1


async def test_a_hand_edit_and_removed_dids_reach_the_next_call_on_every_server(
    mysql_url: str, serve: StartServe, ami: Ami
) -> None:
    """A busy destination changed by hand in SQL is dialled 1.5 s later; a DID removed with the CLI
    and one deleted by hand in SQL are NOT_FOUND on both servers."""
    edited, removed, deleted = "15553900011", "15553900012", "15553900013"
    await _world(mysql_url, edited, removed, deleted)
    await _serve(serve, mysql_url, AGI_PORT)
    second = await _serve(serve, mysql_url)
    for did in (edited, removed, deleted):
        outcome, _ = await _real_call(ami, did)
        assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")
        assert (await _fake_call(second.port, did))[0] == "ANSWERED"

    execute(
        mysql_url,
        "UPDATE did_transfers SET busy_destination = ? WHERE did_id = (SELECT id FROM dids WHERE number = ?)",
        ("pstn:15550009999", edited),
    )
    await _cli(mysql_url, "did", "remove", removed)
    execute(
        mysql_url,
        "DELETE FROM did_transfers WHERE did_id = (SELECT id FROM dids WHERE number = ?)",
        (deleted,),
    )
    execute(mysql_url, "DELETE FROM dids WHERE number = ?", (deleted,))
    await _wait_after(time.monotonic())

    outcome, reached = await _real_call(ami, edited)
    assert ((outcome.result, outcome.leg), reached) == (("ANSWERED", "BUSY"), ["busy", "15550009999"])
    result, dials = await _fake_call(second.port, edited)
    assert (result, dials[-1]) == ("ANSWERED", 'EXEC Dial "PJSIP/15550009999@pstn,2"')
    for did in (removed, deleted):
        outcome, reached = await _real_call(ami, did)
        assert ((outcome.result, outcome.agistatus), reached) == (("NOT_FOUND", "SUCCESS"), [])
        assert await _fake_call(second.port, did) == ("NOT_FOUND", [])

    by_hand = json.loads(await _cli(mysql_url, "changes", "--actor", "sql", "--json"))
    assert {(c["did"], c["field"], c["old"], c["new"]) for c in by_hand} >= {
        (edited, "busy", "endpoint:answer", "pstn:15550009999"),
        (deleted, "primary", "endpoint:busy", None),
    }


async def test_changes_made_while_the_database_is_away_apply_once_it_is_back(
    mysql_url: str, serve: StartServe, ami: Ami
) -> None:
    """The server's connection to MariaDB is cut (a relay in between) while transfer is switched off
    on a connection that stays up. Calls keep routing from the cache, with the settings the server
    last saw; once the database is back the next call follows the change."""
    did = "15553900021"
    await _world(mysql_url, did)
    proxy = TcpProxy(3306)
    await proxy.start()
    server = await _serve(serve, mysql_url.replace("127.0.0.1:3306", f"127.0.0.1:{proxy.port}"), AGI_PORT)
    try:
        outcome, _ = await _real_call(ami, did)
        assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")
        await proxy.cut()
        await _cli(mysql_url, "transfer", "set", did, "--off")
        await _wait_after(time.monotonic())
        await server.wait_for("change log not readable: routing from the cache as it is", timeout=10)
        outcome, reached = await _real_call(ami, did)
        assert ((outcome.result, outcome.leg), reached) == (("ANSWERED", "BUSY"), ["busy", "answer"])

        await proxy.start()
        await server.wait_for("change log readable again: changes made meanwhile applied", timeout=15)
        outcome, reached = await _real_call(ami, did)
        assert ((outcome.result, outcome.leg), reached) == (("BUSY", "PRIMARY"), ["busy"])
    finally:
        await proxy.cut()
