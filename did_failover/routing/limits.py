"""A DID's channel limit across every Asterisk and every server, counted in Redis.

Each DID has a sorted set of its calls in progress: a member per call, `NODE/UNIQUEID`, scored by the
time its lease ends (Redis's own clock, so the servers' clocks need not agree). Admitting a call is one
Lua script: drop the expired members, count, add this call unless the limit is reached. Each server
renews the leases of its calls every third of the lease, and removes a call's member when its session
ends (answered, hung up, failed or shut down). A server that dies leaves members that nobody renews:
they expire within one lease (`DID_FAILOVER_REDIS_LEASE`), and are removed at once when that node
starts again, from the hash that lists each node's members.

When Redis cannot be reached the call is not refused for it: `admit` says so (None) and the handler
applies Asterisk's own per-box GROUP_COUNT, as the `asterisk` backend does, and `hold`s the calls
GROUP_COUNT lets through. The next renewal that reaches Redis puts every call in progress back: those
held meanwhile, and, when Redis lost its data (restarted: the node's hash is gone), every one, so that
a restarted Redis counts the calls still up instead of admitting a full limit on top of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from did_failover.logs import get_logger

log = get_logger("did_failover.routing.limits")

_ADMIT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('HSET', KEYS[2], ARGV[3], KEYS[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[1]))
return 1
"""
"""KEYS: the DID's set, the node's hash. ARGV: lease ms, limit, member. 1 admitted, 0 refused."""

_RENEW = """
local now = redis.call('TIME')
local until_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
local lost = redis.call('EXISTS', KEYS[1]) == 0
local calls = #KEYS - 1
for i = 2, #KEYS do
  local member = ARGV[i]
  if lost or ARGV[calls + i] == '1' or redis.call('HEXISTS', KEYS[1], member) == 1 then
    redis.call('ZADD', KEYS[i], until_ms, member)
    redis.call('HSET', KEYS[1], member, KEYS[i])
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[1]))
  end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""
"""KEYS: the node's hash, then a DID set per call. ARGV: lease ms, each call's member, then per call
'1' when it was held while Redis was unreachable. A call is renewed while the node's hash lists it
(a member released meanwhile is not brought back); every call is put back when the hash is gone."""

_CLEAR = """
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do redis.call('ZREM', held[i + 1], held[i]) end
redis.call('DEL', KEYS[1])
return #held / 2
"""
"""KEYS: the node's hash. Removes every call the node holds; returns how many."""

_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


class RedisLimits:
    """Admits and releases the calls of limited DIDs for one node (one `serve` process)."""

    def __init__(self, url: str, prefix: str, node: str, lease: float, timeout: float) -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._prefix = prefix
        self.node = node
        self._lease_ms = int(lease * 1000)
        self._node_key = f"{prefix}node:{node}"
        self._held: dict[str, str] = {}
        """member -> the DID set it is in: the calls this node holds a slot for."""
        self._unregistered: set[str] = set()
        """Members held while Redis was unreachable (GROUP_COUNT admitted them), not yet in Redis."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._renewer: asyncio.Task[None] | None = None
        self.down = False
        self.fallbacks = 0
        """Calls limited by GROUP_COUNT instead because Redis could not be reached (a metric)."""

    def _did_key(self, did: str) -> str:
        return f"{self._prefix}did:{did}"

    async def start(self) -> None:
        """Remove the slots this node left behind in an earlier life; renew leases from now on."""
        try:
            cleared = await self._redis.eval(_CLEAR, 1, self._node_key)
        except (RedisError, OSError) as exc:
            self._set_down(exc)
        else:
            if cleared:
                log.info("channel-limit slots of an earlier run removed", node=self.node, slots=cleared)
        self._renewer = asyncio.create_task(self._renew_forever())

    async def admit(self, did: str, uniqueid: str, limit: int) -> bool | None:
        """True: the call has a slot; False: the DID is at its limit; None: Redis is unreachable."""
        member = f"{self.node}/{uniqueid}"
        key = self._did_key(did)
        try:
            admitted = await self._redis.eval(_ADMIT, 2, key, self._node_key, self._lease_ms, limit, member)
        except (RedisError, OSError) as exc:
            self._set_down(exc)
            self.fallbacks += 1
            return None
        self._set_up()
        if admitted:
            self._held[member] = key
        return bool(admitted)

    def hold(self, did: str, uniqueid: str) -> None:
        """A call that GROUP_COUNT admitted while Redis was unreachable: counted in Redis from the
        next renewal that reaches it, and released like any other."""
        member = f"{self.node}/{uniqueid}"
        self._held[member] = self._did_key(did)
        self._unregistered.add(member)

    def release(self, uniqueid: str) -> None:
        """The call's session ended: give its slot back (in the background; never delays the session)."""
        member = f"{self.node}/{uniqueid}"
        key = self._held.pop(member, None)
        self._unregistered.discard(member)
        if key is None:
            return
        task = asyncio.create_task(self._release(key, member))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, key: str, member: str) -> None:
        with contextlib.suppress(RedisError, OSError):  # unreachable: the lease ends it
            await self._redis.eval(_RELEASE, 2, key, self._node_key, member)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            await self.renew()

    async def renew(self) -> None:
        """Extend the lease of every call this node holds (every third of a lease)."""
        held = list(self._held.items())
        if not held:
            return
        pending = [member for member, _ in held if member in self._unregistered]
        try:
            await self._redis.eval(
                _RENEW,
                1 + len(held),
                self._node_key,
                *(key for _, key in held),
                self._lease_ms,
                *(member for member, _ in held),
                *("1" if member in self._unregistered else "0" for member, _ in held),
            )
        except (RedisError, OSError) as exc:
            self._set_down(exc)
        else:
            self._unregistered.difference_update(pending)
            self._set_up()

    async def close(self) -> None:
        """The server has stopped: give back every slot still held, stop renewing, disconnect."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self._redis.eval(_CLEAR, 1, self._node_key)
        self._held.clear()
        await self._redis.aclose()

    def _set_down(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            log.warning(
                "Redis unreachable: channel limits are counted per Asterisk (GROUP_COUNT) until it is back",
                error=f"{type(exc).__name__}: {exc}",
            )

    def _set_up(self) -> None:
        if self.down:
            self.down = False
            log.info("Redis reachable again: channel limits are counted across every server")
