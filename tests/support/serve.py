"""`did-failover serve` as a real process: started, its JSON log read, signalled, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from did_failover.settings import AGI_PORT, METRICS_PORT, parse_hostport

BIN = Path(sys.executable).with_name("did-failover")
"""The console script of the environment the tests run in."""


class ServeProcess:
    """One `did-failover [ARGS] serve`; its JSON log goes to a file (a pipe could fill and stall it)."""

    def __init__(self, env: dict[str, str], *args: str, log_path: Path | None = None) -> None:
        self.env = env
        self.args = args
        if log_path is None:
            handle, name = tempfile.mkstemp(prefix="serve-", suffix=".log")
            with open(handle, "wb"):
                pass
            log_path = Path(name)
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.runs: list[int] = []
        """The pid of each start (a test may restart the process)."""
        self._log_offset = 0
        self._read = 0
        """Lines `wait_for` has looked at already."""

    @classmethod
    async def launch(cls, env: dict[str, str], *args: str, log_path: Path | None = None) -> ServeProcess:
        """Start one and wait for its `listening` line."""
        serve = cls(env, *args, log_path=log_path)
        await serve.start()
        return serve

    @property
    def port(self) -> int:
        """The FastAGI port it listens on."""
        return parse_hostport(self.env["DID_FAILOVER_LISTEN"], AGI_PORT)[1]

    @property
    def metrics_port(self) -> int:
        """The metrics and health port."""
        return parse_hostport(self.env["DID_FAILOVER_METRICS_LISTEN"], METRICS_PORT)[1]

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 20.0) -> None:
        """Start the process and wait for its `listening` line."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                BIN, *self.args, "serve", env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        self.runs.append(self.proc.pid)
        self._read = len(self.lines())
        deadline = time.monotonic() + timeout
        while not any(line["event"] == "listening" for line in self.lines(this_run=True)):
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{self.log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.05)

    def lines(self, this_run: bool = False) -> list[dict[str, Any]]:
        """The JSON log lines written so far (of the current process only with `this_run`)."""
        if not self.log_path.exists():
            return []
        data = self.log_path.read_bytes()[self._log_offset if this_run else 0 :]
        out = []
        for raw in data.splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(raw))
        return out

    def events(self, event: str, this_run: bool = False) -> list[dict[str, Any]]:
        """Log lines whose event is `event`."""
        return [line for line in self.lines(this_run) if line.get("event") == event]

    async def wait_for(self, event: str, timeout: float = 20.0) -> dict[str, Any]:
        """The next log line with `event` after those an earlier `wait_for` returned or passed."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines()
            for index in range(self._read, len(lines)):
                if lines[index].get("event") == event:
                    self._read = index + 1
                    return lines[index]
            self._read = len(lines)
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(f"serve exited before {event!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event!r} line within {timeout:g} s")
            await asyncio.sleep(0.02)

    async def metric(self, name: str, **labels: str) -> float:
        """One sample from GET /metrics (the server's own counters), 0 when absent."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.metrics_port)
        writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
        body = (await asyncio.wait_for(reader.read(), 5)).decode()
        writer.close()
        want = name + (
            "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
        )
        for line in body.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample == want:
                return float(value)
        return 0.0

    def signal(self, sig: int) -> None:
        """Send a signal to the process."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit; its exit code (negative: killed by that signal)."""
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self) -> int | None:
        """SIGTERM, and SIGKILL when it does not exit within 15 s; the exit code (None: not running)."""
        if self.proc is None:
            return None
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        return self.proc.returncode
