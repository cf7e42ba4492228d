"""Servers for tests: the FastAGI server in-process on 127.0.0.1 port 0 with the application's session
logging, and `did-failover serve` as a real process."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from did_failover.runtime.app import agi_server
from did_failover.settings import Settings
from fastagi.server import Server
from fastagi.session import Handler
from tests.plugins.logs import LogCapture
from tests.support.net import free_port
from tests.support.serve import ServeProcess

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


StartServe = Callable[..., Awaitable[ServeProcess]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[StartServe]:
    """A factory: `await serve(database_url, port=..., **settings)` starts `did-failover serve` as a
    real process (cache TTL 0 unless given), stopped after the test."""
    started: list[ServeProcess] = []

    async def start(database_url: str, port: int | None = None, **settings: Any) -> ServeProcess:
        port = port or free_port()
        metrics_port = free_port()
        env = {
            **os.environ,
            "DID_FAILOVER_DATABASE_URL": database_url,
            "DID_FAILOVER_LISTEN": f"127.0.0.1:{port}",
            "DID_FAILOVER_LOG_FORMAT": "json",
            "DID_FAILOVER_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            "DID_FAILOVER_CACHE_TTL": "0",
            **{f"DID_FAILOVER_{k.upper()}": str(v) for k, v in settings.items()},
        }
        process = ServeProcess(env, log_path=tmp_path / f"serve-{port}-{len(started)}.log")
        started.append(process)
        await process.start()
        return process

    yield start
    for process in started:
        await process.stop()
