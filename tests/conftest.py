"""Shared fixtures: the FastAGI server on a real socket, captured JSON log lines."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvloop

from did_failover import logs
from did_failover.runtime.app import agi_server
from did_failover.settings import Settings
from fastagi.server import Server
from fastagi.session import Handler


class LogCapture:
    """The structured log lines the code under test wrote, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far."""
        logs.flush()
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def events(self, event: str) -> list[dict[str, Any]]:
        """Lines whose event is `event`."""
        return [line for line in self.lines if line["event"] == event]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests run on uvloop, the loop production uses; the server tests run on the stdlib loop too."""
    if item.nodeid.startswith("tests/test_server.py"):
        return {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


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
        server = agi_server(config, routes or {})
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
        testbed.shutdown()
        pytest.fail(f"Asterisk test bed unavailable: {exc}", pytrace=False)
    yield testbed
    testbed.shutdown()


@pytest.fixture
async def ami(asterisk: AsteriskTestbed) -> AsyncIterator[Ami]:
    """An AMI client (user testbed) recording events; hangs up leftover calls after the test."""
    async with asterisk.ami() as client:
        yield client


# -- Databases: a fresh SQLite file and a fresh MariaDB database per test ----------------

import secrets  # noqa: E402

import pymysql  # noqa: E402

from tests.dbtools import MARIADB  # noqa: E402


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """The URL of an empty SQLite database file in the test's tmp_path."""
    return f"sqlite:///{tmp_path}/did-failover.db"


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """The URL of a new, empty database on the real MariaDB at 127.0.0.1:3306, dropped afterwards.

    Fails (never skips) when MariaDB is not running.
    """
    name = f"didfo_test_{secrets.token_hex(6)}"
    try:
        admin = pymysql.connect(**MARIADB, autocommit=True)
    except pymysql.err.MySQLError as exc:
        pytest.fail(f"MariaDB at 127.0.0.1:3306 unavailable: {exc}", pytrace=False)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        admin.close()
        admin = pymysql.connect(**MARIADB, autocommit=True)  # a test may have restarted MariaDB
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def repo_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each back end in turn: SQLite, then the real MariaDB."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
