"""The FastAGI server in-process on 127.0.0.1 port 0, with the application's session logging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from did_failover.runtime.app import agi_server
from did_failover.settings import Settings
from fastagi.server import Server
from fastagi.session import Handler
from tests.plugins.logs import LogCapture

StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server(log_capture: LogCapture) -> AsyncIterator[StartServer]:
    """Start a FastAGI server on 127.0.0.1 port 0 with the given routes and settings."""
    started: list[tuple[Server, asyncio.Task[None]]] = []

    async def start(routes: dict[str, Handler] | None = None, **settings: Any) -> Server:
        config = Settings(**{"listen": "127.0.0.1:0", "grace_period": 2.0, **settings})
        server = agi_server(config, routes or {})
        task = asyncio.create_task(server.serve(install_signals=False))
        await asyncio.wait_for(server.started.wait(), 5)
        started.append((server, task))
        return server

    yield start
    for server, task in started:
        server.request_stop()
        await asyncio.wait_for(task, 10)
