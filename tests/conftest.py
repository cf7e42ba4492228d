"""Shared fixtures: the FastAGI server on a real socket, captured JSON log lines."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from fastagi import logs
from fastagi.server import Server
from fastagi.session import Handler
from fastagi.settings import Settings


class LogCapture:
    """The structured log lines the code under test wrote, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def events(self, event: str) -> list[dict[str, Any]]:
        """Lines whose event is `event`."""
        return [line for line in self.lines if line["event"] == event]


@pytest.fixture
def log_capture() -> LogCapture:
    """Route structlog's JSON output into memory for the test."""
    capture = LogCapture()
    logs.configure("debug", "json", capture.stream)
    return capture


StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server(log_capture: LogCapture) -> AsyncIterator[StartServer]:
    """Start a FastAGI server on 127.0.0.1 port 0 with the given routes and settings."""
    started: list[tuple[Server, asyncio.Task[None]]] = []

    async def start(routes: dict[str, Handler] | None = None, **settings: Any) -> Server:
        config = Settings(**{"listen": "127.0.0.1:0", "grace_period": 2.0, **settings})
        server = Server(config, routes or {})
        task = asyncio.create_task(server.serve(install_signals=False))
        await asyncio.wait_for(server.started.wait(), 5)
        started.append((server, task))
        return server

    yield start
    for server, task in started:
        server.request_stop()
        await asyncio.wait_for(task, 10)


# -- The Asterisk 22 test bed (tests/testbed, see its README.md) ---------------------

from collections.abc import Iterator  # noqa: E402

from tests.testbed.asterisk import Ami, AsteriskTestbed, TestbedError  # noqa: E402


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskTestbed]:
    """The running Asterisk test bed for the whole session; fails (never skips) when it
    cannot be provisioned or started."""
    testbed = AsteriskTestbed()
    try:
        testbed.start()
    except TestbedError as exc:
        pytest.fail(f"Asterisk test bed unavailable: {exc}", pytrace=False)
    yield testbed
    testbed.stop()


@pytest.fixture
async def ami(asterisk: AsteriskTestbed) -> AsyncIterator[Ami]:
    """An AMI client (user testbed) recording events; hangs up leftover calls after the test."""
    async with asterisk.ami() as client:
        yield client
