"""The redis channel-limit backend against the machine's real Redis (each test has its own key
prefix): one atomic admit across servers, slots given back, a dead server's slots reclaimed, and
Redis going away (a TCP relay cut) answered with a fallback, never a refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from did_failover.routing.limits import RedisLimits
from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import open_repository
from tests.plugins.redis import REDIS_PORT
from tests.plugins.redis import members as count_members
from tests.routing.bed import ACCOUNT, callers
from tests.support.db import add_did
from tests.support.net import TcpProxy
from tests.testbed.asterisk import Ami

DID = "15552000001"

Make = Callable[..., RedisLimits]


@pytest.fixture
async def make(redis_prefix: str) -> AsyncIterator[Make]:
    """A factory of started limiters (one per node) on the test's prefix, closed afterwards."""
    made: list[RedisLimits] = []

    def build(node: str, lease: float = 30.0, port: int = REDIS_PORT) -> RedisLimits:
        limits = RedisLimits(f"redis://127.0.0.1:{port}/0", redis_prefix, node, lease, 1.0)
        made.append(limits)
        return limits

    yield build
    for limits in made:
        await limits.close()


async def members(prefix: str) -> int:
    return await count_members(prefix, DID)


async def test_a_limit_of_three_admits_three_calls_across_two_servers_at_once(
    make: Make, redis_prefix: str
) -> None:
    """40 calls arrive at once on two servers for a DID limited to 3: exactly 3 are admitted; one
    ending lets exactly one more in."""
    a, b = make("node-a"), make("node-b")
    await a.start()
    await b.start()
    calls = [(a if i % 2 else b, f"call-{i}") for i in range(40)]
    admitted = await asyncio.gather(*(limits.admit(DID, call, 3) for limits, call in calls))
    assert admitted.count(True) == 3 and admitted.count(False) == 37
    assert await members(redis_prefix) == 3
    winner = next(pair for pair, ok in zip(calls, admitted, strict=True) if ok)
    winner[0].release(winner[1])
    await asyncio.sleep(0.1)  # the release is sent in the background
    again = await asyncio.gather(
        *(limits.admit(DID, f"late-{i}", 3) for i, (limits, _) in enumerate(calls[:10]))
    )
    assert again.count(True) == 1


async def test_a_killed_servers_slots_expire_within_one_lease(make: Make, redis_prefix: str) -> None:
    """A server that dies (no release, no renewal) holds its slots only until their lease ends."""
    dead, alive = make("node-dead", lease=3.0), make("node-alive", lease=3.0)
    await dead.start()
    await alive.start()
    assert await dead.admit(DID, "held", 1) is True
    assert dead._renewer is not None
    dead._renewer.cancel()  # SIGKILL: nothing renews, nothing releases
    assert await alive.admit(DID, "refused", 1) is False
    async with asyncio.timeout(3.0 + 2.0):
        while not await alive.admit(DID, "admitted", 1):
            await asyncio.sleep(0.2)
    assert await members(redis_prefix) == 1


async def test_a_server_that_starts_again_frees_its_old_slots_at_once(make: Make) -> None:
    """The same node name starting again removes what its earlier life held, without waiting."""
    first = make("node-x")
    await first.start()
    assert await first.admit(DID, "old-call", 1) is True
    assert first._renewer is not None
    first._renewer.cancel()
    other = make("node-y")
    await other.start()
    assert await other.admit(DID, "refused", 1) is False
    restarted = make("node-x")
    await restarted.start()
    assert await other.admit(DID, "admitted", 1) is True


async def test_a_call_longer_than_the_lease_keeps_its_slot(make: Make) -> None:
    """Renewals every third of the lease keep a long call counted."""
    a, b = make("node-a", lease=1.5), make("node-b", lease=1.5)
    await a.start()
    await b.start()
    assert await a.admit(DID, "long", 1) is True
    await asyncio.sleep(1.5 * 2)  # two leases: without renewals the slot would be gone
    assert await b.admit(DID, "refused", 1) is False


async def test_redis_unreachable_means_fall_back_never_refuse(make: Make, redis_prefix: str) -> None:
    """Redis cut away: admit says None (the handler then uses GROUP_COUNT), counts the fallback,
    logs one warning; once Redis is back, admit answers from Redis again."""
    relay = TcpProxy(REDIS_PORT)
    await relay.start()
    limits = make("node-cut", port=relay.port)
    await limits.start()
    assert await limits.admit(DID, "before", 5) is True
    await relay.cut()
    assert [await limits.admit(DID, f"during-{i}", 5) for i in range(3)] == [None, None, None]
    assert (limits.down, limits.fallbacks) == (True, 3)
    await relay.start()
    assert await limits.admit(DID, "after", 5) is True
    assert limits.down is False and await members(redis_prefix) == 2


async def test_calls_let_through_while_redis_was_away_are_counted_once_it_is_back(
    make: Make, redis_prefix: str
) -> None:
    """Calls GROUP_COUNT admitted during a cut are put into Redis by the first renewal that reaches
    it, so the cluster-wide limit counts them; one that ended meanwhile is not."""
    relay = TcpProxy(REDIS_PORT)
    await relay.start()
    cut_off, other = make("node-cut", port=relay.port), make("node-other")
    await cut_off.start()
    await other.start()
    await relay.cut()
    for call in ("during-1", "during-2", "ended"):
        assert await cut_off.admit(DID, call, 2) is None
        cut_off.hold(DID, call)
    cut_off.release("ended")
    await relay.start()
    assert await members(redis_prefix) == 0
    await cut_off.renew()
    assert await members(redis_prefix) == 2 and cut_off.down is False
    assert await other.admit(DID, "over-the-limit", 2) is False


async def test_a_redis_that_lost_its_data_gets_the_calls_in_progress_back(
    make: Make, redis_prefix: str
) -> None:
    """Redis restarted empty (it keeps nothing on disk here): each node's next renewal puts its calls
    in progress back, so a DID at its limit stays at it. A call released before is not brought back."""
    a, b = make("node-a"), make("node-b")
    await a.start()
    await b.start()
    assert [await a.admit(DID, "one", 3), await b.admit(DID, "two", 3), await b.admit(DID, "gone", 3)] == [
        True,
        True,
        True,
    ]
    b.release("gone")
    await asyncio.sleep(0.1)  # the release is sent in the background
    redis = Redis(port=REDIS_PORT)
    await redis.delete(*[key async for key in redis.scan_iter(f"{redis_prefix}*")])
    await redis.aclose()
    await a.renew()
    await b.renew()
    assert await members(redis_prefix) == 2
    assert await a.admit(DID, "third", 3) is True and await b.admit(DID, "fourth", 3) is False
    await b.renew()  # a renewal of a live hash brings back nothing released
    b.release("two")
    await asyncio.sleep(0.1)
    await b.renew()
    assert await members(redis_prefix) == 2


# -- real calls: two servers, one Asterisk -------------------------------------------------------------


async def _server(settings: Settings) -> tuple[App, asyncio.Task[None]]:
    app = await App.build(settings)
    task = asyncio.create_task(app.server.serve(install_signals=False))
    await asyncio.wait_for(app.server.started.wait(), 5)
    return app, task


async def test_a_did_limited_to_three_is_counted_across_two_servers(
    mysql_url: str, ami: Ami, redis_prefix: str
) -> None:
    """Three calls ringing through server A; a fourth through server B is BUSY and dials nothing;
    one of the three hangs up and the next call through B is admitted. With B cut off from Redis,
    B falls back to Asterisk's GROUP_COUNT and still routes the call."""
    repo = open_repository(mysql_url, 2.0)
    await repo.init_schema()
    await repo.add_account(ACCOUNT, "Test customer", "customer", None)
    await add_did(repo, DID, "endpoint:ring", account=ACCOUNT, ring_timeout=20, max_channels=3)
    await repo.close()
    relay = TcpProxy(REDIS_PORT)
    await relay.start()
    common = {
        "database_url": mysql_url,
        "cache_ttl": 0,
        "grace_period": 1,
        "limit_backend": "redis",
        "redis_prefix": redis_prefix,
    }
    a, a_task = await _server(
        Settings(**common, listen="127.0.0.1:14573", node="a", redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0")
    )
    b, b_task = await _server(
        Settings(**common, listen="127.0.0.1:14574", node="b", redis_url=f"redis://127.0.0.1:{relay.port}/0")
    )
    via_b = {"_DID_FAILOVER_AGI": "agi://127.0.0.1:14574"}  # this call's dialplan asks server B
    try:
        held = []
        for _ in range(3):
            caller = str(next(callers))
            held.append(await ami.originate(DID, caller))
            await ami.wait_dest_reached(Dest="ring", CallerID=caller)
        assert await members(redis_prefix) == 3
        fourth = str(next(callers))
        call = await ami.originate(DID, fourth, variables=via_b)
        outcome = await ami.wait_outcome(call, timeout=10)
        assert (outcome.result, outcome.leg) == ("BUSY", "")
        assert b.handler.results["BUSY", ""] == 1 and sum(a.handler.results.values()) == 0
        await ami.hangup(held.pop(0))
        async with asyncio.timeout(5):
            while await members(redis_prefix) != 2:
                await asyncio.sleep(0.1)
        fifth = str(next(callers))
        held.append(await ami.originate(DID, fifth, variables=via_b))
        await ami.wait_dest_reached(Dest="ring", CallerID=fifth)
        assert await members(redis_prefix) == 3

        await relay.cut()
        sixth = str(next(callers))
        await ami.hangup(held.pop(0))  # two on this Asterisk now: GROUP_COUNT admits a third
        await asyncio.sleep(0.5)
        held.append(await ami.originate(DID, sixth, variables=via_b))
        await ami.wait_dest_reached(Dest="ring", CallerID=sixth)
        assert b.limits is not None and (b.limits.fallbacks, b.limits.down) == (1, True)
        assert b"did_failover_limit_fallbacks_total 1.0" in b.metrics.exposition()
        await relay.start()  # Redis back: the calls' sessions give their slots back as they end
        for held_call in held:
            await ami.hangup(held_call)
            await ami.wait_outcome(held_call, timeout=10)
    finally:
        for app, task in ((a, a_task), (b, b_task)):
            app.server.request_stop()
            await asyncio.wait_for(task, 10)
    assert await members(redis_prefix) == 0  # every slot given back
