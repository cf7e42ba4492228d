"""The SIP benchmark keeps working: real SIPp calls each way through the test bed (no figures asserted)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path

import pytest

from bench.sip.run import WAYS, fill, measure
from tests.testbed.asterisk import AsteriskTestbed


async def test_sip_bench_smoke_places_real_calls_every_way(
    asterisk: AsteriskTestbed, mysql_url: str, tmp_path: Path
) -> None:
    """20 calls each way (dialplan, did-failover with and without AMI): every call is forwarded and
    answered, each run measures Asterisk's CPU, the server's, and pairs the failover gap of its calls."""
    if shutil.which("sipp") is None:
        pytest.fail("sipp is missing: scripts/test installs sip-tester", pytrace=False)
    await fill(mysql_url)
    assert asterisk.process is not None
    args = argparse.Namespace(rate=10.0, calls=20, rounds=1, steps="", step_seconds=1.0)
    rounds, _ = await asyncio.to_thread(measure, asterisk.process.pid, list(WAYS), args, tmp_path, mysql_url)
    assert [run.way for run in rounds] == list(WAYS)
    assert [(run.completed, run.failed) for run in rounds] == [(20, 0)] * len(WAYS)
    assert all(len(run.gaps_ms) == 20 for run in rounds)
    assert all(run.asterisk_ms_per_call is not None for run in rounds)
    assert [run.server_ms_per_call is not None for run in rounds] == [way != "dialplan" for way in WAYS]
