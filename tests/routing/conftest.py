"""Fixtures of the routing tests: `bed`, the real server on the test bed's AGI port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import open_repository
from fastagi.server import Server
from tests.routing.bed import ACCOUNT, AGI_LISTEN, Bed, Start
from tests.testbed.asterisk import Ami


@pytest.fixture
def bed_url(request: pytest.FixtureRequest) -> str:
    """The bed's database: a fresh one on the machine's MariaDB, or on the suite's own
    (tests/plugins/own_mariadb.py) for a test marked `own_mariadb`, which may kill it."""
    name = "own_mysql_url" if request.node.get_closest_marker("own_mariadb") else "mysql_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def bed(bed_url: str, ami: Ami) -> AsyncIterator[Start]:
    """A factory: the real server on the test bed's AGI port over a fresh MariaDB database."""
    mysql_url = bed_url
    opened: list[tuple[Server, asyncio.Task[None]]] = []

    async def start(**settings: Any) -> Bed:
        repo = open_repository(mysql_url, 2.0)
        await repo.init_schema()
        await repo.add_account(ACCOUNT, "Test customer", "customer", None)
        config = Settings(
            **{"database_url": mysql_url, "listen": AGI_LISTEN, "cache_ttl": 0, "grace_period": 1, **settings}
        )
        server = (await App.build(config)).server
        task = asyncio.create_task(server.serve(install_signals=False))
        await asyncio.wait_for(server.started.wait(), 5)
        opened.append((server, task))
        return Bed(repo, ami, server)

    yield start
    for server, task in opened:
        server.request_stop()
        await asyncio.wait_for(task, 10)
