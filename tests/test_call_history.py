"""Call-state logging over AMI and the call history, against the real Asterisk test bed and MariaDB."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from did_failover.routing.handler import DIDFailover
from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import CallRecord, Repository, TransferRow, open_repository
from tests.plugins.logs import LogCapture
from tests.testbed.asterisk import AMI_PORT, Ami

LOGGER = "did-failover-logger:change-me-to-a-long-random-secret"
DID = "15552000001"
BIN = Path(sys.executable).with_name("did-failover")


class AmiProxy:
    """A TCP relay in front of Asterisk's AMI port: stopping it is AMI going away for the listener."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", AMI_PORT)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@dataclass
class HistoryBed:
    repo: Repository
    handler: DIDFailover
    proxy: AmiProxy
    url: str


@pytest.fixture
async def history_bed(mysql_url: str, ami: Ami) -> AsyncIterator[HistoryBed]:
    """The real server with AMI logging (through a relay) over a fresh MariaDB database."""
    repo = open_repository(mysql_url, 2.0)
    await repo.init_schema()
    await repo.add_account("7100", "History customer", "customer", None)
    await repo.add_did(DID, "7100", "endpoint:busy", 2, 0)
    await repo.set_transfer(TransferRow(DID, True, None, "pstn:15550008888", None, None, 5, "keep", "test"))
    await ami.set_global("TESTBED_ANSWER_SECONDS", "2")
    proxy = AmiProxy()
    await proxy.start()
    settings = Settings(
        database_url=mysql_url,
        listen="127.0.0.1:14573",
        cache_ttl=0,
        grace_period=1,
        ami_url=f"ami://{LOGGER}@127.0.0.1:{proxy.port}",
    )
    app = await App.build(settings)
    handler = app.handler
    server = app.server
    task = asyncio.create_task(server.serve(install_signals=False))
    await asyncio.wait_for(server.started.wait(), 5)
    await _until(lambda: handler.tracker is not None and handler.tracker.ami_connected)
    try:
        yield HistoryBed(repo, handler, proxy, mysql_url)
    finally:
        server.request_stop()
        await asyncio.wait_for(task, 10)
        await proxy.stop()
        await repo.close()


async def _until(condition: object, timeout: float = 15.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def _rows(repo: Repository, count: int) -> list[CallRecord]:
    """Wait until `count` call-history rows are written (the writer batches in the background)."""
    async with asyncio.timeout(20):
        while len(rows := await repo.list_calls(limit=100)) < count:
            await asyncio.sleep(0.1)
    return rows


async def test_failover_call_gives_state_lines_and_one_history_row(
    history_bed: HistoryBed, ami: Ami, log_capture: LogCapture
) -> None:
    """A busy primary failing over to a PSTN number: state lines for both legs, one complete row."""
    call = await ami.originate(DID, "15557100001")
    outcome = await ami.wait_outcome(call, timeout=30)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")
    (row,) = await _rows(history_bed.repo, 1)
    assert (row.did, row.account_number, row.caller, row.uniqueid) == (
        DID,
        "7100",
        "15557100001",
        call.channel_uniqueid,
    )
    assert (row.primary_destination, row.primary_dialstatus) == ("endpoint:busy", "BUSY")
    assert (row.transfer_condition, row.transfer_destination, row.transfer_dialstatus) == (
        "BUSY",
        "pstn:15550008888",
        "ANSWER",
    )
    assert (row.result, row.leg) == ("ANSWERED", "BUSY")
    assert row.answered_at is not None and row.ended_at is not None
    assert row.started_at <= row.answered_at <= row.ended_at
    assert row.hangup_cause is not None
    assert row.billsec is not None and 1 <= row.billsec <= 4  # the destination stays up 2 s
    states = [
        (line["leg"], line["state"])
        for line in log_capture.events("call state")
        if line["uniqueid"] == call.channel_uniqueid
    ]
    assert states[:2] == [("PRIMARY", "ringing"), ("PRIMARY", "dial_end")]
    assert ("BUSY", "ringing") in states and ("BUSY", "answered") in states
    assert ("BUSY", "hangup") in states and states[-1][1] == "ended"

    # What a sysadmin sees: `did-failover calls` shows both legs, times and billable seconds.
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": history_bed.url}
    proc = await asyncio.create_subprocess_exec(
        BIN, "calls", "--did", DID, "--json", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    (shown,) = json.loads(out)
    assert shown["primary_dialstatus"] == "BUSY" and shown["transfer_dialstatus"] == "ANSWER"
    assert shown["billsec"] == row.billsec and shown["answered_at"] and shown["ended_at"]


async def test_ami_down_and_back_routing_unaffected_and_recording_resumes(
    history_bed: HistoryBed, ami: Ami
) -> None:
    """AMI goes away mid-run: calls still route and get a row whose answer, end, cause and billable
    seconds come from Dial; the listener reconnects by itself and later calls are recorded from AMI."""
    tracker = history_bed.handler.tracker
    assert tracker is not None
    await history_bed.proxy.stop()
    await _until(lambda: not tracker.ami_connected)
    call = await ami.originate(DID, "15557100002")
    outcome = await ami.wait_outcome(call, timeout=30)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")
    (row,) = await _rows(history_bed.repo, 1)
    assert (row.result, row.transfer_dialstatus, row.hangup_cause) == ("ANSWERED", "ANSWER", 16)
    assert row.answered_at is not None and row.ended_at is not None and row.answered_at < row.ended_at
    assert row.billsec is not None and row.billsec >= 1

    await history_bed.proxy.start()
    await _until(lambda: tracker.ami_connected, timeout=40)
    call = await ami.originate(DID, "15557100003")
    outcome = await ami.wait_outcome(call, timeout=30)
    assert outcome.result == "ANSWERED"
    newest = (await _rows(history_bed.repo, 2))[0]
    assert newest.caller == "15557100003"
    assert newest.answered_at is not None and newest.ended_at is not None and newest.billsec is not None
