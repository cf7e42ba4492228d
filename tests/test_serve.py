"""`did-failover serve` as a sysadmin runs it: a real process, real signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from fastagi.client import call, environment, ok_responder
from tests.support.net import free_port

BIN = Path(sys.executable).with_name("did-failover")


def _env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DID_FAILOVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DID_FAILOVER_LISTEN": f"127.0.0.1:{port}",
        # a free port for /metrics too: the default (9573) may be a developer's running server's
        "DID_FAILOVER_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "DID_FAILOVER_LOG_FORMAT": "json",
        **extra,
    }


async def test_serve_refuses_a_database_without_schema(tmp_path: Path) -> None:
    """No schema: one clear error line naming the fix, exit code 1, nothing listening."""
    proc = await asyncio.create_subprocess_exec(
        BIN, "serve", env=_env(tmp_path, free_port()), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    errors = [json.loads(line) for line in out.decode().splitlines() if '"error"' in line]
    assert "run 'did-failover db init'" in errors[-1]["error"]


async def test_serve_answers_calls_and_stops_on_sigterm(tmp_path: Path) -> None:
    """After `db init`, serve answers a health probe and a DID call, and exits 0 on SIGTERM."""
    port = free_port()
    env = _env(tmp_path, port)
    init = await asyncio.create_subprocess_exec(BIN, "db", "init", env=env)
    assert await init.wait() == 0
    proc = await asyncio.create_subprocess_exec(BIN, "serve", env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    while b'"listening"' not in (line := await asyncio.wait_for(proc.stdout.readline(), 20)):
        assert line, "serve exited before listening"
    health = await call("127.0.0.1", port, environment("health"), ok_responder())
    assert health.commands == ['VERBOSE "did-failover healthy" 3'] and not health.failure
    unknown = await call("127.0.0.1", port, environment("did-failover", args=["15550000000"]), ok_responder())
    assert any("DID_FAILOVER_RESULT=NOT_FOUND" in c for c in unknown.commands)
    proc.send_signal(signal.SIGTERM)
    rest, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    events = [json.loads(line)["event"] for line in rest.decode().splitlines()]
    assert events.count("session") == 2 and events[-1] == "stopped"


async def test_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A bad setting names the variable on one line; exit code 2."""
    proc = await asyncio.create_subprocess_exec(
        BIN,
        "serve",
        env=_env(tmp_path, 1, DID_FAILOVER_ALLOW="10.0.0.0/33"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "DID_FAILOVER_ALLOW" in lines[0]
