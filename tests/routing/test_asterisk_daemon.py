"""`did-failover serve` as shipped (a real process with metrics and AMI) routing real calls."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from did_failover.storage import TransferRow, open_repository
from tests.support.net import free_port
from tests.testbed.asterisk import AMI_PORT, Ami

BIN = Path(sys.executable).with_name("did-failover")
DID = "15553000001"


async def _get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def _value(metrics: str, name: str, **labels: str) -> float:
    """One sample's value from the exposition text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


async def test_daemon_routes_real_calls_and_metrics_move(mysql_url: str, ami: Ami) -> None:
    """The shipped daemon fails a busy primary over on real Asterisk; /metrics counts it, /healthz is ok,
    AMI shows connected, and SIGTERM stops it cleanly."""
    async with open_repository(mysql_url, 5.0) as repo:
        await repo.init_schema()
        await repo.add_account("7200", "Daemon customer", "customer", None)
        await repo.add_did(DID, "7200", "endpoint:busy", 2, 0)
        await repo.set_transfer(TransferRow(DID, True, None, "pstn:15550009999", None, None, 5, "keep", "t"))
    metrics_port = free_port()
    env = {
        **os.environ,
        "DID_FAILOVER_DATABASE_URL": mysql_url,
        "DID_FAILOVER_LISTEN": "127.0.0.1:14573",
        "DID_FAILOVER_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        "DID_FAILOVER_AMI_URL": f"ami://did-failover-logger:change-me-to-a-long-random-secret@127.0.0.1:{AMI_PORT}",
        "DID_FAILOVER_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(BIN, "serve", env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        while b'"listening"' not in (line := await asyncio.wait_for(proc.stdout.readline(), 20)):
            assert line, "serve exited before listening"
        async with asyncio.timeout(15):
            while _value((await _get(metrics_port, "/metrics"))[1], "did_failover_ami_connected") != 1:
                await asyncio.sleep(0.1)
        _, before = await _get(metrics_port, "/metrics")
        calls = [await ami.originate(DID, f"1555720000{i}") for i in range(3)]
        outcomes = [await ami.wait_outcome(call, timeout=30) for call in calls]
        assert [(o.result, o.leg) for o in outcomes] == [("ANSWERED", "BUSY")] * 3
        _, after = await _get(metrics_port, "/metrics")
        answered = {"result": "ANSWERED", "leg": "BUSY"}
        assert (
            _value(after, "did_failover_results_total", **answered)
            - _value(before, "did_failover_results_total", **answered)
            == 3
        )
        assert (
            _value(after, "did_failover_session_setup_seconds_count")
            - _value(before, "did_failover_session_setup_seconds_count")
            == 3
        )
        assert DID not in after and "1555720000" not in after
        status, body = await _get(metrics_port, "/healthz")
        assert status == 200, body
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
