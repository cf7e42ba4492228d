"""What the redis channel-limit backend adds to a call of a limited DID: the latency of one admit.

    .venv/bin/python -m bench.redis_limit [--calls 2000] [--url redis://127.0.0.1:6379/0]

Admits and releases `--calls` calls one after the other through did_failover.routing.limits on a key
prefix of its own (deleted afterwards), and prints the admit round trip's p50, p99 and max. The call
waits for exactly this (one Lua call); the release is sent in the background.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from redis.asyncio import Redis

from did_failover.routing.limits import RedisLimits


async def measure(url: str, calls: int) -> list[float]:
    """Admit latency of each call, in microseconds."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    limits = RedisLimits(url, prefix, "bench", 30.0, 1.0)
    await limits.start()
    took = []
    try:
        for i in range(calls):
            start = time.perf_counter()
            if not await limits.admit("15550000001", f"call-{i}", 10):
                raise SystemExit(f"call {i} was not admitted: is {url} a Redis of its own?")
            took.append((time.perf_counter() - start) * 1e6)
            limits.release(f"call-{i}")
            await asyncio.sleep(0)
    finally:
        await limits.close()
        redis = Redis.from_url(url)
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    return sorted(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    took = asyncio.run(measure(args.url, args.calls))
    p50, p99 = took[len(took) // 2], took[int(len(took) * 0.99)]
    print(f"{len(took)} admits: p50 {p50:.0f} us, p99 {p99:.0f} us, max {took[-1]:.0f} us")


if __name__ == "__main__":
    main()
