"""Asterisk's hagi:// on the test bed: the servers found by their SRV records (served by dnsmasq),
tried in priority order, the next one taking the calls once the first is gone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import open_repository
from tests.routing.bed import ACCOUNT, callers
from tests.support.db import add_did
from tests.testbed.asterisk import AGI_BACKUP_PORT, AGI_PORT, Ami

DID = "15554000001"
NAME = "did-failover.test"
RECORDS = [
    (f"_agi._tcp.{NAME}", f"agi1.{NAME}", AGI_BACKUP_PORT, 10),
    (f"_agi._tcp.{NAME}", f"agi2.{NAME}", AGI_PORT, 20),
]
"""What a platform publishes (docs/scaling.md): two servers, the first preferred. Here the preferred
one is the test bed's *backup* port, so that a call it takes can only have found it by SRV (the
dialplan's own order, DID_FAILOVER_AGI then DID_FAILOVER_AGI_BACKUP, is the other way round)."""


async def test_hagi_uses_the_first_server_by_srv_and_the_next_once_it_is_gone(
    mysql_url: str, ami: Ami, srv_records: Callable[..., AbstractContextManager[str]]
) -> None:
    """`AGI(hagi://did-failover.test/did-failover)`: the call goes to the priority-10 server; with
    that one stopped, hagi itself tries the priority-20 one, which routes the next call (the
    dialplan's backup, the stopped server's port, would have failed)."""
    repo = open_repository(mysql_url, 2.0)
    await repo.init_schema()
    await repo.add_account(ACCOUNT, "Test customer", "customer", None)
    await add_did(repo, DID, "endpoint:answer", account=ACCOUNT)
    await repo.close()
    apps = []
    for port in (AGI_PORT, AGI_BACKUP_PORT):
        app = await App.build(Settings(database_url=mysql_url, listen=f"127.0.0.1:{port}", grace_period=1))
        apps.append((app, asyncio.create_task(app.server.serve(install_signals=False))))
        await asyncio.wait_for(app.server.started.wait(), 5)
    (second, _), (first, first_task) = apps  # first: priority 10, on the backup port
    hagi = {"_DID_FAILOVER_AGI": f"hagi://{NAME}"}
    try:
        with srv_records(RECORDS, {f"agi1.{NAME}": "127.0.0.1", f"agi2.{NAME}": "127.0.0.1"}):
            call = await ami.originate(DID, str(next(callers)), variables=hagi)
            outcome = await ami.wait_outcome(call, timeout=20)
            assert (outcome.result, outcome.agistatus) == ("ANSWERED", "SUCCESS")
            assert first.handler.results["ANSWERED", "PRIMARY"] == 1 and not second.handler.results
            first.server.request_stop()
            await asyncio.wait_for(first_task, 10)
            call = await ami.originate(DID, str(next(callers)), variables=hagi)
            outcome = await ami.wait_outcome(call, timeout=20)
            assert (outcome.result, outcome.agistatus) == ("ANSWERED", "SUCCESS")
            assert second.handler.results["ANSWERED", "PRIMARY"] == 1
    finally:
        for app, task in apps:
            app.server.request_stop()
            await asyncio.wait_for(task, 10)
