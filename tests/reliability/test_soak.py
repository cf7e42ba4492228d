"""Soak: 2,000 calls at a steady rate through the fake Asterisk into `did-failover serve` (a real process),
with random caller hang-ups and abrupt disconnects; every call gets its expected result, nothing leaks."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from did_failover.storage import open_repository
from fastagi.client import environment
from tests.plugins.servers import StartServe
from tests.reliability.conftest import CUSTOMER, add_did, fd_count, rss_kib
from tests.support.channels import Answer, TimedCall, channel, timed_call

pytestmark = pytest.mark.slow


CALLS = 2000
RATE = 100.0
"""Calls started per second."""
WARM_UP = 200
"""Calls before the baseline of RSS and file descriptors is taken."""
HANGUP_SHARE = 0.05
DISCONNECT_SHARE = 0.05
RSS_SLACK_KIB = 6 * 1024
"""How far RSS may stay above its post-warm-up level once the run is over (allocator noise)."""


@dataclass(frozen=True)
class Scenario:
    """One kind of call: the DID, how each Dial ends, the result expected, and where the Dials are."""

    name: str
    did: str
    statuses: tuple[str, ...]
    result: str
    dials: tuple[int, ...]
    """Indexes (in the command sequence) of the EXEC Dial commands; () when nothing is dialled."""


# Commands: 0 GET FULL VARIABLE (counters + SET()s), 1 EXEC Dial, 2 GET DIALSTATUS, then for each
# transfer step 3 EXEC MSet REDIRECTING, 4 EXEC Dial, 5 GET DIALSTATUS (then 6-8, ...; a voicemail step
# is EXEC VoiceMail and GET VARIABLE VMSTATUS); last the MSet of DID_FAILOVER_*.
SCENARIOS = (
    Scenario("answered", "15552000001", ("ANSWER,16",), "ANSWERED", (1,)),
    Scenario("busy -> busy dest", "15552000001", ("BUSY,17", "ANSWER,16"), "ANSWERED", (1, 4)),
    Scenario("no answer -> sip", "15552000001", ("NOANSWER,0", "ANSWER,16"), "ANSWERED", (1, 4)),
    Scenario("unavailable -> busy", "15552000001", ("CHANUNAVAIL,3", "BUSY,17"), "BUSY", (1, 4)),
    Scenario("always", "15552000002", ("ANSWER,16",), "ANSWERED", (2,)),
    Scenario("busy, no dest", "15552000003", ("BUSY,17",), "BUSY", (1,)),
    Scenario("unknown DID", "15552999999", (), "NOT_FOUND", ()),
    Scenario(
        "list: step 2 answers", "15552000004", ("BUSY,17", "BUSY,17", "ANSWER,16"), "ANSWERED", (1, 4, 7)
    ),
    Scenario(
        "list: to voicemail",
        "15552000004",
        ("BUSY,17", "NOANSWER,0", "CHANUNAVAIL,3"),
        "VOICEMAIL",
        (1, 4, 7),
    ),
    Scenario(
        "list: no answer list ends", "15552000004", ("NOANSWER,0", "NOANSWER,0", "BUSY,17"), "BUSY", (1, 4, 7)
    ),
)


def _plan(rng: random.Random, n: int) -> tuple[Scenario, str, int | None]:
    """Pick a scenario and a fault: ('', None), ('hangup', command index) or ('disconnect', index)."""
    scenario = rng.choice(SCENARIOS)
    roll = rng.random()
    if roll < HANGUP_SHARE and scenario.dials:
        return scenario, "hangup", rng.randint(0, scenario.dials[-1])
    if roll < HANGUP_SHARE + DISCONNECT_SHARE:
        return scenario, "disconnect", rng.randint(0, len(scenario.dials) and scenario.dials[-1] + 2)
    return scenario, "", None


def _answer(scenario: Scenario, fault: str, at: int | None) -> Answer:
    if fault == "hangup":
        assert at is not None
        # A caller who hangs up while a Dial is on makes it end with CANCEL; after it, the Dial's own status.
        statuses = [
            "CANCEL," if at <= dial else status
            for dial, status in zip(scenario.dials, scenario.statuses, strict=False)
        ]
        return channel(*statuses, hangup_before=at)
    inner = channel(*scenario.statuses)
    if fault == "disconnect":
        return lambda command, index: None if index == at else inner(command, index)
    return inner


def _expected(scenario: Scenario, fault: str) -> str:
    """The session outcome the server must log: the result, caller_hangup, or closed."""
    if fault == "hangup":
        return "caller_hangup"
    if fault == "disconnect":
        return "closed"
    return scenario.result.lower()


async def test_soak_2000_calls_with_hangups_and_disconnects(
    tmp_path: Path, serve: StartServe, figures: Callable[..., None]
) -> None:
    """2,000 calls at 100/s, 5% caller hang-ups and 5% abrupt disconnects at random points: each call gets
    the result its scenario expects, the server logs one line per call, RSS and fds return to their level."""
    url = f"sqlite:///{tmp_path / 'soak.db'}"
    repo = open_repository(url, 2.0)
    await repo.init_schema()
    await repo.add_account(CUSTOMER, "Soak customer", "customer", None)
    await add_did(
        repo,
        "15552000001",
        "endpoint:alice",
        busy="pstn:+15557654321",
        no_answer="sip:vm@pbx.example.com",
        unavailable="endpoint:bob",
    )
    await add_did(repo, "15552000002", "endpoint:alice", always="pstn:15550001111")
    await add_did(repo, "15552000003", "endpoint:alice", no_answer="endpoint:bob")
    await add_did(
        repo,
        "15552000004",
        "endpoint:alice",
        busy="pstn:+15557654321/20,endpoint:bob,voicemail:100",
        no_answer="endpoint:carol,pstn:15550002222/10",
    )
    await repo.close()
    server = await serve(url, cache_ttl=1)

    rng = random.Random(20260508)
    plans = [_plan(rng, i) for i in range(CALLS)]
    calls: list[asyncio.Task[TimedCall]] = []
    baseline: tuple[int, int] = (0, 0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, (scenario, fault, at) in enumerate(plans):
        if i == WARM_UP:
            await asyncio.gather(*calls)
            baseline = (rss_kib(server.pid), fd_count(server.pid))
        await asyncio.sleep(max(0.0, start + i / RATE - loop.time()))
        env = environment(
            "did-failover", args=[scenario.did], uniqueid=f"soak.{i}", callerid=f"1555300{i:04d}"
        )
        delay = rng.choice((0.0, 0.0, 0.01, 0.05))
        calls.append(
            asyncio.create_task(timed_call(server.port, env, _answer(scenario, fault, at), reply_delay=delay))
        )
    seen = await asyncio.gather(*calls)
    elapsed = loop.time() - start

    # The server logs a session line when the handler task ends: wait until every one is in.
    for _ in range(100):
        sessions = {line["uniqueid"]: line for line in server.events("session")}
        if len(sessions) >= CALLS:
            break
        await asyncio.sleep(0.1)
    wrong = []
    for i, ((scenario, fault, _at), call) in enumerate(zip(plans, seen, strict=True)):
        expected = _expected(scenario, fault)
        logged = sessions.get(f"soak.{i}", {}).get("outcome")
        if logged != expected or (not fault and call.result != scenario.result):
            wrong.append((i, scenario.name, fault, expected, logged, call.result))
    await asyncio.sleep(0.2)
    after = (rss_kib(server.pid), fd_count(server.pid))
    faults = Counter(fault for _, fault, _ in plans if fault)
    failed_handlers = server.events("handler failed")
    figures(
        calls=len(seen),
        correct=CALLS - len(wrong),
        lost=len(wrong),
        caller_hangups=faults["hangup"],
        abrupt_disconnects=faults["disconnect"],
        seconds=round(elapsed, 1),
        rss_kib_baseline=baseline[0],
        rss_kib_after=after[0],
        fds_baseline=baseline[1],
        fds_after=after[1],
        handler_exceptions=len(failed_handlers),
    )
    assert wrong == [], f"{len(wrong)} calls with the wrong outcome, first: {wrong[:5]}"
    assert len(sessions) == CALLS and not failed_handlers
    assert faults["hangup"] > 50 and faults["disconnect"] > 50
    assert after[1] == baseline[1], "file descriptors did not return to their level"
    assert after[0] - baseline[0] < RSS_SLACK_KIB, "RSS did not return to its level"
