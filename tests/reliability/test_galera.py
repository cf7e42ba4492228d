"""did-failover on a real three-node MariaDB Galera cluster (tests/plugins/galera.py): the URL with
every node, a node killed while calls are routed and changes are made, write conflicts retried."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from collections.abc import Callable

from did_failover.admin.service import ADMIN, Service
from did_failover.admin.users import Users
from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import open_repository
from did_failover.storage._sql import RETRIES
from tests.plugins.galera import Galera
from tests.plugins.web import PASSWORD, StartSite, csrf_of
from tests.plugins.webhooks import StartReceiver
from tests.routing.bed import ACCOUNT, callers
from tests.support.db import add_did
from tests.support.ops import cli
from tests.testbed.asterisk import AGI_PORT, Ami

DID = "15553000001"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


async def test_a_killed_node_loses_no_call_and_no_change(
    galera: Galera,
    cluster_db: str,
    ami: Ami,
    start_site: StartSite,
    receiver: StartReceiver,
    figures: Callable[..., None],
) -> None:
    """Real calls (every one read from the database: cache off), CLI commands (a process each) and
    saves of the web page (one process, logged in) go on while the node all of them use is
    SIGKILLed: every call is routed, every change that was confirmed is on every node once the
    killed node has rejoined and caught up, and the web session lives on (it is in the database).
    A webhook gets every call and every change once the node is back: the server and the web
    process both deliver, each holding the subscription in turn."""
    url = galera.url(cluster_db)
    repo = open_repository(url, 2.0)
    await repo.init_schema()
    await repo.add_account(ACCOUNT, "Test customer", "customer", None)
    await add_did(repo, DID, "endpoint:answer", account=ACCOUNT)
    await Users(repo).add_user(ADMIN, "root", "admin", None, PASSWORD)
    target = await receiver()
    hook = await Service(repo, webhook_allow=LOOPBACK).add_webhook(
        ADMIN, target.url(), "call.ended,change.made"
    )
    target.trust(hook.secret)
    (before_hook,) = galera.query(0, "SELECT COALESCE(MAX(id), 0) FROM change_log", cluster_db)[0]
    site = await start_site(url, webhook_allow="127.0.0.0/8", webhook_timeout="2")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    env["DID_FAILOVER_DATABASE_URL"] = url
    app = await App.build(
        Settings(
            database_url=url,
            listen=f"127.0.0.1:{AGI_PORT}",
            cache_ttl=0,
            grace_period=1,
            webhook_allow=LOOPBACK,
            webhook_timeout=2,
        )
    )
    serving = asyncio.create_task(app.server.serve(install_signals=False))
    await asyncio.wait_for(app.server.started.wait(), 5)
    cli_confirmed: list[int] = []
    web_confirmed: list[str] = []
    timeouts: list[int] = []
    refused: list[str] = []
    outcomes = []
    seconds: list[float] = []
    """Each call, from the Originate to the end of its dialplan (the far end answers for 1 s)."""
    web = await site.login("root")
    try:
        for i in range(24):
            if i == 8:
                galera.kill(0)  # the first node: the one the server, the web and the CLI are on
            code, _, err = await cli(env, "transfer", "set", DID, "--timeout", str(10 + i))
            if code == 0:
                cli_confirmed.append(10 + i)
                timeouts.append(10 + i)
            else:
                refused.append(f"cli: {err.strip()}")
            busy = f"+49305550{i:03d}"
            page = await web.get(f"/dids/{DID}")
            saved = await web.post(f"/dids/{DID}", data=_form(csrf_of(page.text), busy, 10 + i))
            if saved.status_code == 303:
                web_confirmed.append(f"pstn:{busy}")
                timeouts.append(10 + i)
            else:
                refused.append(f"web: {saved.status_code}")
            caller = str(next(callers))
            started = time.monotonic()
            call = await ami.originate(DID, caller)
            outcomes.append((await ami.wait_outcome(call, timeout=20)).result)
            seconds.append(time.monotonic() - started)
        await asyncio.to_thread(galera.start, 0)  # rejoins and catches up (IST or SST)
        change_ids = {
            int(row[0])
            for row in galera.query(1, f"SELECT id FROM change_log WHERE id > {int(before_hook)}", cluster_db)
        }
        await target.wait_for(24, "call.ended", timeout=60)
        async with asyncio.timeout(60):
            while not change_ids <= {r["body"]["data"]["id"] for r in target.events("change.made")}:
                await asyncio.sleep(0.1)
    finally:
        await web.aclose()
        app.server.request_stop()
        await asyncio.wait_for(serving, 10)
        await repo.close()
    on_nodes = [
        galera.query(
            n,
            "SELECT t.timeout, t.busy_destination FROM did_transfers t JOIN dids d ON d.id = t.did_id",
            cluster_db,
        )
        for n in range(3)
    ]
    changes = [
        galera.query(
            n,
            "SELECT SUM(actor LIKE 'cli:%' AND field = 'timeout'), SUM(actor = 'web:root' AND field = 'busy')"
            " FROM change_log",
            cluster_db,
        )
        for n in range(3)
    ]
    history = [
        galera.query(n, "SELECT COUNT(DISTINCT uniqueid), COUNT(*) FROM call_log", cluster_db)[0]
        for n in range(3)
    ]
    delivered = target.events()
    ids = [int(r["id"]) for r in delivered]
    first_seen = list(dict.fromkeys(ids))
    figures(
        webhook_requests=len(delivered),
        webhook_events=len(first_seen),
        webhook_repeats=len(ids) - len(first_seen),
        calls=len(outcomes),
        call_history_calls_per_node=[int(calls) for calls, _ in history],
        call_history_rows_written_twice=int(history[0][1]) - int(history[0][0]),
        answered=outcomes.count("ANSWERED"),
        cli_changes_confirmed=len(cli_confirmed),
        web_saves_confirmed=len(web_confirmed),
        refused=refused,
        call_seconds_before_kill_max=round(max(seconds[:8]), 2),
        call_seconds_at_kill=round(seconds[8], 2),
        call_seconds_after_kill_max=round(max(seconds[9:]), 2),
        final_settings_per_node=[list(rows[0]) for rows in on_nodes],
        change_rows_per_node=[[int(v) for v in rows[0]] for rows in changes],
    )
    assert outcomes == ["ANSWERED"] * 24
    assert all(r["verified"] for r in delivered)
    assert first_seen == sorted(first_seen)  # in id order
    assert sorted({r["body"]["data"]["uniqueid"] for r in target.events("call.ended")}) == sorted(
        {str(row[0]) for row in galera.query(1, "SELECT uniqueid FROM call_log", cluster_db)}
    )
    # Every call in the history of every node, exactly once: the rows queued while the node went away
    # were written after, and a batch whose commit the dying node made but did not confirm, sent
    # again, added nothing (the call log's unique key, schema 5).
    assert [(int(calls), int(rows)) for calls, rows in history] == [(24, 24)] * 3
    assert len(refused) <= 1, refused  # only a change whose commit the dying node was answering
    assert on_nodes == [[(timeouts[-1], web_confirmed[-1])]] * 3
    assert [[tuple(int(v) for v in rows[0])] for rows in changes] == [
        [(len(cli_confirmed), len(web_confirmed))]
    ] * 3


def _form(csrf: str, busy: str, timeout: int) -> dict[str, str]:
    """The DID page's form: a new busy destination, the timeout the CLI has just set."""
    return {
        "csrf": csrf,
        "timeout": str(timeout),
        "busy_type": "pstn",
        "busy_destination": busy,
        "no_answer_type": "none",
        "unavailable_type": "none",
        "always_type": "none",
        "caller_id": "did",
        "enabled": "on",
    }


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


async def test_db_init_as_a_plain_user_says_what_the_cluster_needs(galera: Galera, cluster_db: str) -> None:
    """The user of docs/scaling.md (ALL on its database, no SUPER) on nodes with binary logging:
    `db init` is refused once, with the setting that fixes it, leaves no version behind (so nothing
    takes the half-made schema for a finished one), and works once that setting is on."""
    galera.query(0, "CREATE USER IF NOT EXISTS 'dfplain'@'127.0.0.1' IDENTIFIED BY 'plain-secret'")
    galera.query(0, f"GRANT ALL PRIVILEGES ON {cluster_db}.* TO 'dfplain'@'127.0.0.1'")
    url = galera.url(cluster_db).replace("mysql://root@", "mysql://dfplain:plain-secret@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    env["DID_FAILOVER_DATABASE_URL"] = url
    try:
        code, _, err = await cli(env, "db", "init")
        assert code != 0 and err.count("\n") == 1
        assert "log_bin_trust_function_creators = 1" in err, err
        assert "database node" not in err  # the statement's own error, not taken for a lost node
        assert galera.query(0, f"SELECT COUNT(*) FROM {cluster_db}.schema_version") == [(0,)]
        assert (await cli(env, "check"))[1].splitlines()[1].endswith("run 'did-failover db init'")
        for node in range(3):
            galera.query(node, "SET GLOBAL log_bin_trust_function_creators = 1")
        code, out, err = await cli(env, "db", "init")
        assert (code, out.strip()) == (0, "database schema version 7 ready"), err
    finally:
        for node in range(3):
            galera.query(node, "SET GLOBAL log_bin_trust_function_creators = 0")
        galera.query(0, "DROP USER IF EXISTS 'dfplain'@'127.0.0.1'")
