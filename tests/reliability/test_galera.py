"""did-failover on a real three-node MariaDB Galera cluster (tests/plugins/galera.py): the URL with
every node, a node killed while calls are routed and changes are made, write conflicts retried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from did_failover.admin.service import ADMIN, Service
from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import open_repository
from did_failover.storage._sql import RETRIES
from tests.plugins.galera import Galera
from tests.routing.bed import ACCOUNT, callers
from tests.support.db import add_did
from tests.testbed.asterisk import AGI_PORT, Ami


async def test_a_killed_node_loses_no_call_and_no_change(
    galera: Galera, cluster_db: str, ami: Ami, figures: Callable[..., None]
) -> None:
    """Real calls (every one read from the database: cache off) and changes go on while the node
    both use is SIGKILLed: every call is routed, every change that was confirmed is on every node
    once the killed node has rejoined and caught up."""
    url = galera.url(cluster_db)
    repo = open_repository(url, 2.0)
    await repo.init_schema()
    await repo.add_account(ACCOUNT, "Test customer", "customer", None)
    await add_did(repo, "15553000001", "endpoint:answer", account=ACCOUNT)
    service = Service(repo)
    app = await App.build(
        Settings(database_url=url, listen=f"127.0.0.1:{AGI_PORT}", cache_ttl=0, grace_period=1)
    )
    serving = asyncio.create_task(app.server.serve(install_signals=False))
    await asyncio.wait_for(app.server.started.wait(), 5)
    confirmed: list[int] = []
    failed_writes = 0
    outcomes = []
    seconds: list[float] = []
    """Each call, from the Originate to the end of its dialplan (the far end answers for 1 s)."""
    try:
        for i in range(24):
            if i == 8:
                galera.kill(0)  # the first node: the one the server and the writer are connected to
            try:
                await service.set_transfer(ADMIN, "15553000001", timeout=10 + i)
                confirmed.append(10 + i)
            except Exception:
                failed_writes += 1
            caller = str(next(callers))
            started = time.monotonic()
            call = await ami.originate("15553000001", caller)
            outcomes.append((await ami.wait_outcome(call, timeout=20)).result)
            seconds.append(time.monotonic() - started)
        await asyncio.to_thread(galera.start, 0)  # rejoins and catches up (IST or SST)
    finally:
        app.server.request_stop()
        await asyncio.wait_for(serving, 10)
        await repo.close()
    on_nodes = [
        galera.query(n, "SELECT t.timeout FROM did_transfers t JOIN dids d ON d.id = t.did_id", cluster_db)
        for n in range(3)
    ]
    changes = [
        galera.query(
            n, "SELECT COUNT(*) FROM change_log WHERE field = 'timeout' AND action = 'set'", cluster_db
        )
        for n in range(3)
    ]
    figures(
        calls=len(outcomes),
        answered=outcomes.count("ANSWERED"),
        changes_confirmed=len(confirmed),
        changes_refused=failed_writes,
        call_seconds_before_kill_max=round(max(seconds[:8]), 2),
        call_seconds_at_kill=round(seconds[8], 2),
        call_seconds_after_kill_max=round(max(seconds[9:]), 2),
        final_timeout_per_node=[rows[0][0] for rows in on_nodes],
        change_rows_per_node=[rows[0][0] for rows in changes],
    )
    assert outcomes == ["ANSWERED"] * 24
    assert failed_writes <= 1  # only a change whose commit the dying node was answering
    assert on_nodes == [[(confirmed[-1],)]] * 3
    assert changes == [[(len(confirmed),)]] * 3


async def test_write_conflicts_between_nodes_are_retried(
    galera: Galera, cluster_db: str, figures: Callable[..., None]
) -> None:
    """Two writers on two different nodes change the same row at once: Galera refuses one of each
    conflicting pair at commit (deadlock 1213), did-failover runs it again; every change lands."""
    first = open_repository(galera.url(cluster_db, [1, 2, 0]), 2.0)
    second = open_repository(galera.url(cluster_db, [2, 1, 0]), 2.0)
    await first.init_schema()
    await first.add_account(ACCOUNT, "Test customer", "customer", None)
    await add_did(first, "15553000002", "endpoint:answer", account=ACCOUNT)
    before = sum(RETRIES.values())

    async def writer(repo_index: int) -> int:
        service = Service(first if repo_index == 0 else second)
        done = 0
        for i in range(40):
            await service.set_transfer(ADMIN, "15553000002", timeout=20 + (i * 2 + repo_index) % 200)
            done += 1
        return done

    try:
        done = await asyncio.gather(writer(0), writer(1))
    finally:
        await first.close()
        await second.close()
    retried = sum(RETRIES.values()) - before
    figures(changes=sum(done), retried=retried)
    assert done == [40, 40]
