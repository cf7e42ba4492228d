"""Redis for the channel-limit tests: a key prefix of each test's own on the machine's Redis, members
counted under it, and a Redis server of a test's own that it may stop."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.support.net import free_port

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


class RedisServer:
    """A `redis-server` of the test's own on a free loopback port, which the test may stop (SIGTERM,
    as `systemctl stop` does) and start again; it keeps nothing on disk, as the machine's does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A running Redis of this test's own (see RedisServer), stopped afterwards."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: scripts/test installs redis-server", pytrace=False)
    server = RedisServer()
    server.start()
    yield server
    server.stop()
