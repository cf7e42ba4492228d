"""Faults with real processes: MariaDB killed and restarted, the server SIGKILLed while a call is bridged,
SIGTERM under load, Asterisk restarted under open sessions."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from did_failover.routing.handler import DIDFailover
from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import open_repository
from fastagi.client import environment
from fastagi.server import Server, SessionEnd
from fastagi.session import AGISession
from tests.plugins.logs import LogCapture
from tests.plugins.own_mariadb import OwnMariaDB
from tests.plugins.servers import StartServe
from tests.reliability.conftest import CUSTOMER, HOST, add_did
from tests.support.channels import channel, timed_call
from tests.testbed.asterisk import AGI_BACKUP_PORT, AGI_PORT, Ami, AsteriskTestbed, Call

_callers = itertools.count(15553800000)


async def _db(url: str, *dids: tuple[str, str, dict[str, Any]]) -> None:
    repo = open_repository(url, 2.0)
    await repo.init_schema()
    await repo.add_account(CUSTOMER, "Customer", "customer", None)
    for did, primary, extra in dids:
        await add_did(repo, did, primary, **extra)
    await repo.close()


async def _in_process(url: str, port: int, **settings: Any) -> tuple[Server, asyncio.Task[None]]:
    config = Settings(database_url=url, listen=f"{HOST}:{port}", grace_period=1, **settings)
    server = (await App.build(config)).server
    task = asyncio.create_task(server.serve(install_signals=False))
    await asyncio.wait_for(server.started.wait(), 5)
    return server, task


async def _place(ami: Ami, did: str, timeout: float = 30) -> tuple[Call, Any]:
    call = await ami.originate(did, str(next(_callers)))
    return call, await ami.wait_outcome(call, timeout=timeout)


# -- the database ----------------------------------------------------------------------------------------


@pytest.fixture
async def mysql_server(own_mysql_url: str, log_capture: LogCapture) -> AsyncIterator[Server]:
    """The real server on the test bed's AGI port over the suite's own MariaDB (which the tests kill
    and freeze): cache TTL 0.5 s, database timeout 1 s."""
    mysql_url = own_mysql_url
    await _db(
        mysql_url,
        ("15553800001", "endpoint:busy", {"busy": "endpoint:answer"}),
        ("15553800002", "endpoint:answer", {}),
    )
    server, task = await _in_process(mysql_url, AGI_PORT, cache_ttl=0.5, db_timeout=1.0)
    yield server
    server.request_stop()
    await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("how", ["killed", "frozen"])
async def test_database_down_calls_wait_at_most_the_timeout_and_the_pool_recovers(
    mysql_server: Server,
    own_mariadb: OwnMariaDB,
    ami: Ami,
    log_capture: LogCapture,
    figures: Callable[..., None],
    how: str,
) -> None:
    """MariaDB SIGKILLed (connections refused) or SIGSTOPped (no answer at all): DIDs seen before route
    from the cache, unseen ones get ERROR + FAILURE, no call waits for the database much past
    DID_FAILOVER_DB_TIMEOUT, the log and the counters say so; when MariaDB is back the same process
    routes from the database again, without a restart."""
    handler = mysql_server.routes["did-failover"]
    assert isinstance(handler, DIDFailover)
    cache = handler.cache
    waits: list[float] = []

    def observe(session: AGISession, end: SessionEnd) -> None:
        dialled = session.first_dial if session.first_dial is not None else time.monotonic()
        waits.append(dialled - session.started)

    _, seen = await _place(ami, "15553800001")
    assert (seen.result, seen.leg) == ("ANSWERED", "BUSY")
    await asyncio.sleep(0.6)  # the entry is stale now: a lookup has to ask the database
    mysql_server.observers.append(observe)
    if how == "killed":
        own_mariadb.kill()
    else:
        own_mariadb.freeze()
    try:
        during = await asyncio.gather(*(_place(ami, did) for did in ["15553800001", "15553800002"] * 3))
        down_flag, errors = cache.database_down, cache.errors
    finally:
        if how == "killed":
            own_mariadb.start()
        else:
            own_mariadb.thaw()
    mysql_server.observers.remove(observe)
    wrong = []
    for (_, outcome), did in zip(during, ["15553800001", "15553800002"] * 3, strict=True):
        expected = ("ANSWERED", "SUCCESS") if did == "15553800001" else ("ERROR", "FAILURE")
        if (outcome.result, outcome.agistatus) != expected:
            wrong.append((did, outcome))
    # The pool recovers by itself: the same process, the next calls.
    failures_after_return = 0
    for _ in range(5):
        _, back = await _place(ami, "15553800002")
        if back.result == "ANSWERED":
            break
        failures_after_return += 1
    events = [line["event"] for line in log_capture.lines]
    stale = [line for line in log_capture.events("session") if line.get("cache") == "stale"]
    recovered = back.result == "ANSWERED"
    figures(
        calls=len(during) + 1 + failures_after_return + 1,
        correct=1 + len(during) - len(wrong) + recovered,
        lost=len(wrong) + (not recovered),
        routed_from_stale_cache=len(stale),
        failed_over_to_dialplan=sum(1 for _, outcome in during if outcome.agistatus == "FAILURE"),
        max_wait_for_database_s=round(max(waits), 3),
        db_timeout_s=cache._db_timeout,
        database_errors_counted=errors,
        failures_after_database_returned=failures_after_return,
    )
    assert not wrong, wrong
    assert down_flag and errors >= 6
    assert max(waits) < 1.0 * 2 + 1.0, "a call waited for the database far past its timeout"
    assert len(stale) == 3
    assert events.count("database unreachable: routing from cached DID settings") >= 1
    assert "database reachable again" in events and not cache.database_down
    assert failures_after_return == 0, "the pool did not recover by itself"


# -- the server killed -------------------------------------------------------------------------------------


async def test_server_sigkilled_while_a_call_is_bridged(
    tmp_path: Path, serve: StartServe, ami: Ami, figures: Callable[..., None]
) -> None:
    """SIGKILL while a forwarded call is bridged: the call goes on in Asterisk to its natural end and is
    not dialled again; while the server is down the second server takes calls, then the static list,
    then Congestion; started again, the server routes as before."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await _db(url, ("15553810001", "endpoint:answer", {}), ("15553810002", "endpoint:answer", {}))
    server = await serve(url, port=AGI_PORT)
    await ami.set_global("TESTBED_ANSWER_SECONDS", "6")
    bridged_caller = str(next(_callers))
    bridged = await ami.originate("15553810001", bridged_caller)
    reached = await ami.wait_dest_reached(Dest="answer", CallerID=bridged_caller, timeout=10)
    reached_at = time.monotonic()
    await asyncio.sleep(1.0)
    server.signal(signal.SIGKILL)
    assert await server.wait() == -signal.SIGKILL
    killed_at = time.monotonic()
    await ami.set_global("TESTBED_ANSWER_SECONDS", "1")

    # Down: a second server on the backup port answers.
    backup = await serve(url, port=AGI_BACKUP_PORT)
    _, by_backup = await _place(ami, "15553810002")
    await backup.stop()
    # Both down: a DID in [did-failover-static] is dialled directly, any other gets Congestion.
    static_call, static = await _place(ami, "15559990000")
    _, congestion = await _place(ami, "15553810002")

    bridged_outcome = await ami.wait_outcome(bridged, timeout=20)
    ended_at = time.monotonic()
    await server.start()
    _, after = await _place(ami, "15553810002")
    checks = [
        reached["Dest"] == "answer" and bridged_outcome.result == "",
        (by_backup.result, by_backup.leg, by_backup.agistatus) == ("ANSWERED", "PRIMARY", "SUCCESS"),
        (static.result, static.agistatus) == ("", "FAILURE"),
        (congestion.result, congestion.agistatus, congestion.hangup_cause) == ("", "FAILURE", "34"),
        (after.result, after.leg, after.agistatus) == ("ANSWERED", "PRIMARY", "SUCCESS"),
    ]
    figures(
        calls=len(checks),
        correct=sum(checks),
        lost=len(checks) - sum(checks),
        bridged_seconds_after_kill=round(ended_at - killed_at, 1),
        bridged_call_agistatus=bridged_outcome.agistatus,
        congestion_hangup_cause=congestion.hangup_cause,
    )
    assert reached["Dest"] == "answer"
    assert ended_at - reached_at > 5, "the bridged call was cut when the server died"
    assert len(ami.matching("UserEvent", UserEvent="DestReached", CallerID=bridged_caller)) == 1
    assert bridged_outcome.result == ""  # the server never got to set it; nothing re-routed the call
    assert (by_backup.result, by_backup.leg, by_backup.agistatus) == ("ANSWERED", "PRIMARY", "SUCCESS")
    assert (static.result, static.agistatus) == ("", "FAILURE")
    assert ami.matching("DialBegin", Uniqueid=static_call.channel_uniqueid)[0]["DialString"] == "answer"
    assert (congestion.result, congestion.agistatus, congestion.hangup_cause) == ("", "FAILURE", "34")
    assert (after.result, after.leg, after.agistatus) == ("ANSWERED", "PRIMARY", "SUCCESS")


async def test_server_sigkilled_while_the_primary_rings_the_second_server_routes_the_call(
    tmp_path: Path, serve: StartServe, ami: Ami, figures: Callable[..., None]
) -> None:
    """SIGKILL while the primary still rings: Dial ends NOANSWER with no server to read it; the sample
    dialplan sees no result and no answer, so the second server routes the call (and it fails over)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await _db(url, ("15553810003", "endpoint:ring", {"ring_timeout": 3, "no_answer": "endpoint:answer"}))
    server = await serve(url, port=AGI_PORT)
    backup = await serve(url, port=AGI_BACKUP_PORT)
    caller = str(next(_callers))
    call = await ami.originate("15553810003", caller)
    await ami.wait_dest_reached(Dest="ring", CallerID=caller, timeout=10)
    server.signal(signal.SIGKILL)
    assert await server.wait() == -signal.SIGKILL
    outcome = await ami.wait_outcome(call, timeout=30)
    await backup.stop()
    reached = [e["Dest"] for e in ami.matching("UserEvent", UserEvent="DestReached", CallerID=caller)]
    routed = (outcome.result, outcome.leg, outcome.agistatus) == ("ANSWERED", "NO_ANSWER", "SUCCESS")
    figures(calls=1, correct=int(routed), lost=int(not routed), destinations=reached)
    assert (outcome.result, outcome.leg, outcome.agistatus) == ("ANSWERED", "NO_ANSWER", "SUCCESS")
    assert reached == ["ring", "ring", "answer"]  # the primary rang again under the second server


# -- graceful stop -------------------------------------------------------------------------------------------


async def test_sigterm_under_load_lets_every_session_finish(
    tmp_path: Path, serve: StartServe, figures: Callable[..., None]
) -> None:
    """SIGTERM while 80 calls ring (Dials answering after 0.3 to 1.5 s): new connections are refused at
    once, every session in flight runs to its result, the process exits 0 with nothing cut."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await _db(url, ("15553820001", "endpoint:alice", {"busy": "pstn:15550001111"}))
    server = await serve(url, grace_period=10)
    rng = random.Random(8)
    dialling = asyncio.Event()
    in_dial: set[int] = set()
    count = 80

    def answer(i: int) -> Callable[[str, int], list[str] | None]:
        inner = channel("BUSY,17", "ANSWER,16")

        def respond(command: str, index: int) -> list[str] | None:
            if command.startswith("EXEC Dial"):
                in_dial.add(i)
                if len(in_dial) == count:
                    dialling.set()
            return inner(command, index)

        return respond

    calls = [
        asyncio.create_task(
            timed_call(
                server.port,
                environment("did-failover", args=["15553820001"], uniqueid=f"term.{i}"),
                answer(i),
                reply_delay=rng.uniform(0.3, 1.5),
            )
        )
        for i in range(count)
    ]
    await asyncio.wait_for(dialling.wait(), 10)
    server.signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(HOST, server.port)
    seen = await asyncio.gather(*calls)
    code = await server.wait()
    sessions = server.events("session")
    stopped = server.events("stopped")
    figures(
        calls=count,
        correct=sum(1 for c in seen if c.result == "ANSWERED" and c.closed_by_server),
        lost=sum(1 for c in seen if c.result != "ANSWERED"),
        in_flight_at_sigterm=len(in_dial),
        closed_after_grace=stopped[-1]["closed_after_grace"],
        exit_code=code,
    )
    assert [c.result for c in seen] == ["ANSWERED"] * count
    assert all(c.closed_by_server and not c.failure for c in seen)
    assert code == 0 and stopped[-1]["closed_after_grace"] == 0
    assert sorted(line["outcome"] for line in sessions) == ["answered"] * count


# -- Asterisk restarted ----------------------------------------------------------------------------


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("how", ["restart", "sigkill"])
async def test_asterisk_restarted_with_sessions_open_leaks_nothing(
    tmp_path: Path, asterisk: AsteriskTestbed, log_capture: LogCapture, figures: Callable[..., None], how: str
) -> None:
    """Asterisk restarted (or SIGKILLed and started) while 5 calls ring: the server ends the 5 sessions
    cleanly (no handler error), file descriptors and asyncio tasks return to their count, the next call
    routes."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await _db(
        url,
        ("15553830001", "endpoint:ring", {"ring_timeout": 30}),
        ("15553830002", "endpoint:answer", {}),
    )
    server, task = await _in_process(url, AGI_PORT, cache_ttl=0)
    try:
        warm = await timed_call(
            server.port, environment("did-failover", args=["15553830002"]), channel("ANSWER,16")
        )
        assert warm.result == "ANSWERED"
        fds_before, tasks_before = _fds(), len(asyncio.all_tasks())
        async with asterisk.ami(clean_up=False) as ami:
            callers = [str(next(_callers)) for _ in range(5)]
            for caller in callers:
                await ami.originate("15553830001", caller)
            for caller in callers:
                await ami.wait_dest_reached(Dest="ring", CallerID=caller, timeout=10)
            open_sessions = len(server.sessions)
        started = time.monotonic()
        if how == "sigkill" and asterisk.process is not None:
            asterisk.process.kill()
            await asyncio.to_thread(asterisk.process.wait)
        await asyncio.to_thread(asterisk.restart)
        restart_seconds = time.monotonic() - started
        for _ in range(100):
            if not server.sessions:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        fds_after, tasks_after = _fds(), len(asyncio.all_tasks())
        ring_sessions = [line for line in log_capture.events("session") if line.get("did") == "15553830001"]
        async with asterisk.ami() as ami:
            _, after = await _place(ami, "15553830002")
    finally:
        server.request_stop()
        await asyncio.wait_for(task, 10)
    broken = {"error", "cancelled", "reply_timeout", "protocol_error"}
    figures(
        sessions_open_at_restart=open_sessions,
        session_outcomes=sorted(s["outcome"] for s in ring_sessions),
        restart_seconds=round(restart_seconds, 1),
        fds_before=fds_before,
        fds_after=fds_after,
        tasks_before=tasks_before,
        tasks_after=tasks_after,
        lost=open_sessions - sum(1 for s in ring_sessions if s["outcome"] not in broken),
    )
    assert open_sessions == 5
    # A stopping Asterisk hangs the channels up (Dial ends, the route finishes); a killed one just
    # closes the sockets. Either way each session ends on its own path, none with an error.
    assert len(ring_sessions) == 5 and not {s["outcome"] for s in ring_sessions} & broken
    if how == "sigkill":
        assert {s["outcome"] for s in ring_sessions} == {"closed"}
    assert not log_capture.events("handler failed")
    assert (fds_after, tasks_after) == (fds_before, tasks_before)
    assert (after.result, after.leg) == ("ANSWERED", "PRIMARY")
