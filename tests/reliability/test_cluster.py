"""The scaled-out platform of docs/scaling.md on one machine, every part a real process: two Asterisk
boxes (test-bed instances A and B in one chroot), two `did-failover serve` processes, the three-node
Galera cluster and Redis. A DID's channel limit holds across both boxes, a `serve` process SIGKILLed
mid-run loses no call, and Redis stopped and started again is answered as documented."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from did_failover.storage import open_repository
from tests.plugins.galera import Galera
from tests.plugins.redis import REDIS_PORT, RedisServer, members
from tests.plugins.servers import StartServe
from tests.routing.bed import ACCOUNT, callers
from tests.support.db import add_did
from tests.support.serve import ServeProcess
from tests.testbed.asterisk import Ami, Call

DID = "15554000001"


@dataclass
class Platform:
    """Both boxes, each pointed (its DID_FAILOVER_AGI and _BACKUP globals) at both servers, in
    opposite orders as docs/scaling.md suggests: A asks serve 1 first, B asks serve 2 first."""

    a: Ami
    b: Ami
    serve_1: ServeProcess
    serve_2: ServeProcess

    async def call(self, box: Ami, *, talks: bool = False) -> tuple[Call, str]:
        caller = str(next(callers))
        return await box.originate(DID, caller, talks=talks), caller


async def _platform(
    galera: Galera,
    cluster_db: str,
    serve: StartServe,
    ami: Ami,
    ami_b: Ami,
    destination: str,
    max_channels: int = 0,
    **settings: object,
) -> Platform:
    url = galera.url(cluster_db)
    async with open_repository(url, 5.0) as repo:
        await repo.init_schema()
        await repo.add_account(ACCOUNT, "Test customer", "customer", None)
        await add_did(repo, DID, destination, account=ACCOUNT, ring_timeout=20, max_channels=max_channels)
    serve_1 = await serve(url, node="serve-1", grace_period=1, **settings)
    serve_2 = await serve(url, node="serve-2", grace_period=1, **settings)
    for box, first, second in ((ami, serve_1, serve_2), (ami_b, serve_2, serve_1)):
        await box.set_global("DID_FAILOVER_AGI", f"agi://127.0.0.1:{first.port}")
        await box.set_global("DID_FAILOVER_AGI_BACKUP", f"agi://127.0.0.1:{second.port}")
    return Platform(ami, ami_b, serve_1, serve_2)


async def _until_counted(wanted: int, prefix: str, port: int = REDIS_PORT, timeout: float = 10.0) -> None:
    """Wait until Redis counts `wanted` calls of the DID (a release or a renewal is in the background)."""
    async with asyncio.timeout(timeout):
        while await members(prefix, DID, port) != wanted:
            await asyncio.sleep(0.1)


async def test_a_did_limited_to_three_is_counted_across_two_asterisk_boxes(
    galera: Galera,
    cluster_db: str,
    ami: Ami,
    ami_b: Ami,
    serve: StartServe,
    redis_prefix: str,
    figures: Callable[..., None],
) -> None:
    """Three calls ringing on Asterisk A; a fourth on Asterisk B is BUSY and dials nothing. One on A
    hangs up: the next call on B is admitted. A third call on A is then BUSY although A itself has
    only two: the count is the platform's, not the box's."""
    platform = await _platform(
        galera,
        cluster_db,
        serve,
        ami,
        ami_b,
        "endpoint:ring",
        max_channels=3,
        limit_backend="redis",
        redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0",
        redis_prefix=redis_prefix,
    )
    held = []
    for _ in range(3):
        call, caller = await platform.call(ami)
        await ami.wait_dest_reached(Dest="ring", CallerID=caller)
        held.append(call)
    assert await members(redis_prefix, DID) == 3
    started = time.monotonic()
    refused, refused_caller = await platform.call(ami_b)
    outcome = await ami_b.wait_outcome(refused, timeout=15)
    refused_seconds = time.monotonic() - started
    assert (outcome.result, outcome.leg) == ("BUSY", "")
    assert ami_b.matching("UserEvent", UserEvent="DestReached", CallerID=refused_caller) == []
    await ami.hangup(held.pop(0))
    await _until_counted(2, redis_prefix)
    admitted, admitted_caller = await platform.call(ami_b)
    await ami_b.wait_dest_reached(Dest="ring", CallerID=admitted_caller)
    third_on_a, _ = await platform.call(ami)
    outcome_a = await ami.wait_outcome(third_on_a, timeout=15)
    assert (outcome_a.result, outcome_a.leg) == ("BUSY", "")
    assert await platform.serve_2.metric("did_failover_limit_fallbacks_total") == 0
    for call in held:
        await ami.hangup(call)
    await ami_b.hangup(admitted)
    await _until_counted(0, redis_prefix)
    figures(
        refused_on_b=outcome.result,
        refused_on_a_with_two_of_its_own=outcome_a.result,
        refusal_seconds_from_originate=round(refused_seconds, 2),
        slots_left=await members(redis_prefix, DID),
    )


async def test_a_serve_process_killed_mid_run_loses_no_call(
    galera: Galera,
    cluster_db: str,
    ami: Ami,
    ami_b: Ami,
    serve: StartServe,
    figures: Callable[..., None],
) -> None:
    """Calls on both boxes, one after another; serve 1 (A's first choice, B's second) is SIGKILLed
    while a call it routed is ringing through. That call stays up (Asterisk runs the Dial; the
    dialplan sees ANSWER and ends it normally); every later call on A is taken by serve 2 through the
    dialplan fallback, and B never notices. Every call reaches its destination."""
    platform = await _platform(galera, cluster_db, serve, ami, ami_b, "endpoint:answer")
    reached = []
    seconds: list[tuple[str, float]] = []
    kill_at = 8
    for i in range(20):
        box = ami if i % 2 == 0 else ami_b
        started = time.monotonic()
        call, caller = await platform.call(box)
        await box.wait_dest_reached(Dest="answer", CallerID=caller, timeout=15)
        if i == kill_at:
            platform.serve_1.signal(signal.SIGKILL)
            assert await platform.serve_1.wait(10) == -signal.SIGKILL
        outcome = await box.wait_outcome(call, timeout=20)
        seconds.append(("a" if box is ami else "b", time.monotonic() - started))
        reached.append((i, outcome.result))
    after_kill_on_a = [s for box, s in seconds[kill_at + 1 :] if box == "a"]
    before_kill = [s for _, s in seconds[:kill_at]]
    sessions_2 = platform.serve_2.events("session")
    answered_far_ends = [
        event
        for box in (ami, ami_b)
        for event in box.matching("UserEvent", UserEvent="DestReached", Dest="answer")
    ]
    figures(
        calls=len(reached),
        reached_their_destination=len(answered_far_ends),
        answered_result=sum(1 for _, result in reached if result == "ANSWERED"),
        call_seconds_before_kill_max=round(max(before_kill), 2),
        call_seconds_on_a_after_kill_max=round(max(after_kill_on_a), 2),
        sessions_on_serve_2=len(sessions_2),
    )
    # The call in progress at the kill has no result (its server is gone), but it was answered.
    assert len(answered_far_ends) == 20
    assert [result for i, result in reached if i != kill_at] == ["ANSWERED"] * 19
    assert len(sessions_2) == 10 + len(after_kill_on_a)  # all of B's calls, then A's after the kill
    assert max(after_kill_on_a) < max(before_kill) + 1.0  # refused at once: no connect timeout


async def test_redis_stopped_and_started_again_during_calls(
    galera: Galera,
    cluster_db: str,
    ami: Ami,
    ami_b: Ami,
    serve: StartServe,
    redis_server: RedisServer,
    figures: Callable[..., None],
) -> None:
    """A DID limited to 2 with two calls ringing on A. Redis stopped: a call on B is let through by
    B's own GROUP_COUNT (one warning line, a metric), a third on A is BUSY by A's. Redis started again,
    empty: the servers' next renewal counts the three calls up, so the next call on B is BUSY."""
    platform = await _platform(
        galera,
        cluster_db,
        serve,
        ami,
        ami_b,
        "endpoint:ring",
        max_channels=2,
        limit_backend="redis",
        redis_url=redis_server.url,
        redis_lease=3,
    )
    held = []
    for _ in range(2):
        call, caller = await platform.call(ami)
        await ami.wait_dest_reached(Dest="ring", CallerID=caller)
        held.append((ami, call))
    assert await members("did-failover:", DID, redis_server.port) == 2
    redis_server.stop()
    on_b, caller_b = await platform.call(ami_b)
    await ami_b.wait_dest_reached(Dest="ring", CallerID=caller_b)
    held.append((ami_b, on_b))
    third_on_a, _ = await platform.call(ami)
    busy_on_a = (await ami.wait_outcome(third_on_a, timeout=15)).result
    assert busy_on_a == "BUSY"
    fallbacks = await platform.serve_2.metric("did_failover_limit_fallbacks_total")
    assert fallbacks == 1
    assert await platform.serve_2.metric("did_failover_redis_up") == 0
    warnings = [line for line in platform.serve_2.lines() if line.get("level") == "warning"]
    assert len(warnings) == 1 and "GROUP_COUNT" in warnings[0]["event"], warnings
    redis_server.start()
    restarted_at = time.monotonic()
    await _until_counted(3, "did-failover:", redis_server.port)
    recounted_seconds = time.monotonic() - restarted_at
    refused, refused_caller = await platform.call(ami_b)
    after_restart = (await ami_b.wait_outcome(refused, timeout=15)).result
    assert after_restart == "BUSY"
    assert ami_b.matching("UserEvent", UserEvent="DestReached", CallerID=refused_caller) == []
    assert await platform.serve_2.metric("did_failover_redis_up") == 1
    for box, call in held:
        await box.hangup(call)
    await _until_counted(0, "did-failover:", redis_server.port)
    figures(
        let_through_on_b_while_stopped=fallbacks,
        on_a_while_stopped=busy_on_a,
        fallback_warnings=len(warnings),
        seconds_until_the_calls_up_were_counted_again=round(recounted_seconds, 2),
        on_b_after_restart=after_restart,
    )
