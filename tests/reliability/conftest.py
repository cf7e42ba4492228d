"""Shared pieces of the reliability suite: `did-failover serve` as a real process, a timed fake Asterisk,
process gauges from /proc, and the figures each test measures (written for RELIABILITY.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from did_failover.storage import Repository, TransferRow

BIN = Path(sys.executable).with_name("did-failover")
HOST = "127.0.0.1"
CUSTOMER = "7001"


# -- figures --------------------------------------------------------------------------------------------


class Figures:
    """What the tests measured, by test name; printed at the end and kept in pytest's cache."""

    def __init__(self) -> None:
        self.by_test: dict[str, dict[str, Any]] = {}

    def record(self, test: str, **values: Any) -> None:
        """Add measured values for one test."""
        self.by_test.setdefault(test, {}).update(values)


_FIGURES = Figures()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`figures(calls=..., correct=..., lost=...)`: record what this test measured."""

    def record(**values: Any) -> None:
        _FIGURES.record(request.node.nodeid, **values)

    return record


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the measured figures and keep them in the cache (`pytest --cache-show 'did-failover/*'`)."""
    if not _FIGURES.by_test:
        return
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        cache.set("did-failover/reliability-figures", _FIGURES.by_test)
    terminalreporter.section("reliability figures")
    for test, values in sorted(_FIGURES.by_test.items()):
        terminalreporter.write_line(f"{test}: {json.dumps(values, sort_keys=True)}")


# -- the server as a real process -----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class ServeProcess:
    """One `did-failover serve` process; its JSON log goes to a file (a pipe could fill and stall it)."""

    port: int
    env: dict[str, str]
    log_path: Path
    metrics_port: int
    proc: asyncio.subprocess.Process | None = None
    _log_offset: int = 0
    runs: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 20.0) -> None:
        """Start `did-failover serve` and wait for its `listening` line."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                BIN, "serve", env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        self.runs.append(self.proc.pid)
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

    async def metric(self, name: str, **labels: str) -> float:
        """One sample from GET /metrics (the server's own counters), 0 when absent."""
        reader, writer = await asyncio.open_connection(HOST, self.metrics_port)
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

    async def stop(self) -> None:
        """SIGTERM, and SIGKILL when it does not exit within 15 s."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


StartServe = Callable[..., Awaitable[ServeProcess]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[StartServe]:
    """A factory: `await serve(database_url, port=..., **settings)` starts `did-failover serve`."""
    started: list[ServeProcess] = []

    async def start(database_url: str, port: int | None = None, **settings: Any) -> ServeProcess:
        port = port or free_port()
        metrics_port = free_port()
        env = {
            **os.environ,
            "DID_FAILOVER_DATABASE_URL": database_url,
            "DID_FAILOVER_LISTEN": f"{HOST}:{port}",
            "DID_FAILOVER_LOG_FORMAT": "json",
            "DID_FAILOVER_METRICS_LISTEN": f"{HOST}:{metrics_port}",
            "DID_FAILOVER_CACHE_TTL": "0",
            **{f"DID_FAILOVER_{k.upper()}": str(v) for k, v in settings.items()},
        }
        process = ServeProcess(port, env, tmp_path / f"serve-{port}-{len(started)}.log", metrics_port)
        started.append(process)
        await process.start()
        return process

    yield start
    for process in started:
        await process.stop()


async def add_did(
    repo: Repository,
    did: str,
    primary: str,
    *,
    ring_timeout: int = 2,
    max_channels: int = 0,
    account: str = CUSTOMER,
    **destinations: str | None,
) -> None:
    """A DID with transfer on and the given destinations (transfer timeout 2 s)."""
    await repo.add_did(did, account, primary, ring_timeout, max_channels)
    await repo.set_transfer(
        TransferRow(
            did=did,
            enabled=True,
            always=destinations.get("always"),
            busy=destinations.get("busy"),
            no_answer=destinations.get("no_answer"),
            unavailable=destinations.get("unavailable"),
            timeout=2,
            caller_id="keep",
            updated_by="test",
        )
    )


# -- a fake Asterisk that keeps time --------------------------------------------------------------------


@dataclass
class TimedCall:
    """What one fake-Asterisk session saw: commands, `failure`, and the setup delay to the first Dial."""

    commands: list[str] = field(default_factory=list)
    failure: bool = False
    closed_by_server: bool = False
    setup: float | None = None
    """Seconds from connect() to the first `EXEC Dial` received."""
    duration: float = 0.0

    @property
    def result(self) -> str | None:
        """The DID_FAILOVER_RESULT the server set, None when it set none."""
        for command in self.commands:
            if "DID_FAILOVER_RESULT=" in command:
                return command.split("DID_FAILOVER_RESULT=", 1)[1].split(",", 1)[0]
        return None


Answer = Callable[[str, int], list[str] | None]
"""(command, index) -> the lines to answer; None closes the connection at once (abrupt disconnect)."""


async def timed_call(
    port: int,
    env: bytes,
    answer: Answer,
    *,
    host: str = HOST,
    reply_delay: float = 0.0,
    timeout: float = 15.0,
) -> TimedCall:
    """Play Asterisk for one session; `reply_delay` seconds before each Dial's reply (the call rings)."""
    seen = TimedCall()
    start = time.perf_counter()  # uvloop's loop.time() only has millisecond resolution
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(env)
        async with asyncio.timeout(timeout):
            while line := await reader.readline():
                text = line.decode("utf-8", errors="replace").rstrip("\n")
                if text.lower().startswith("failure"):
                    seen.failure = True
                    continue
                if text.startswith("EXEC Dial") and seen.setup is None:
                    seen.setup = time.perf_counter() - start
                seen.commands.append(text)
                lines = answer(text, len(seen.commands) - 1)
                if lines is None:
                    writer.transport.abort()
                    break
                if text.startswith("EXEC Dial") and reply_delay:
                    await asyncio.sleep(reply_delay)
                writer.write("".join(f"{a}\n" for a in lines).encode())
            else:
                seen.closed_by_server = True
    except ConnectionError:
        seen.closed_by_server = True
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    seen.duration = time.perf_counter() - start
    return seen


def channel(*statuses: str, hangup_before: int | None = None) -> Answer:
    """A channel whose Dials end with the given `DIALSTATUS,HANGUPCAUSE` values in turn.

    `hangup_before=N`: Asterisk sends `HANGUP` just before its reply to command N (the caller gives up).
    """
    pending = list(statuses)
    state = {"hungup": False}

    def answer(command: str, index: int) -> list[str]:
        lines: list[str] = []
        if hangup_before is not None and index == hangup_before and not state["hungup"]:
            state["hungup"] = True
            lines.append("HANGUP")
        if command.startswith("GET FULL VARIABLE"):
            if "DIALSTATUS" in command:
                status = "CANCEL," if state["hungup"] else (pending.pop(0) if pending else "ANSWER,16")
                return [*lines, f"200 result=1 ({status})"]
            return [*lines, "200 result=1 (,)"]
        return [*lines, "200 result=0"]

    return answer


@contextlib.contextmanager
def source_address(address: str) -> Iterator[socket.socket]:
    """A TCP socket bound to a loopback source address other than 127.0.0.1 (Linux routes all of 127/8)."""
    sock = socket.socket()
    sock.bind((address, 0))
    try:
        yield sock
    finally:
        sock.close()
