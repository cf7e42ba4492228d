"""Redis for the channel-limit tests: a key prefix of each test's own on the machine's Redis, and
members counted under it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

REDIS_PORT = 6379
"""The machine's own Redis (the test command starts it when it is down)."""


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    redis = Redis(port=REDIS_PORT)
    keys = [key async for key in redis.scan_iter(f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def members(prefix: str, did: str, port: int = REDIS_PORT) -> int:
    """How many calls of `did` are counted under `prefix`."""
    redis = Redis(port=port)
    try:
        return int(await redis.zcard(f"{prefix}did:{did}"))
    finally:
        await redis.aclose()
