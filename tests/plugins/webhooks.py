"""Webhook receivers as real processes on loopback (tests/support/webhook_receiver.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest


class Receiver:
    """One receiver process: its URL, the secrets it verifies with, and what it received."""

    def __init__(
        self, directory: Path, name: str, status: int = 204, delay: float = 0.0, tls: Path | None = None
    ) -> None:
        self.directory = directory
        self.name = name
        self.status = status
        self.delay = delay
        self.tls = tls
        """A PEM file of certificate and key: the receiver speaks https with it."""
        self.out = directory / f"{name}.jsonl"
        self.secrets_file = directory / f"{name}-secrets.json"
        self.portfile = directory / f"{name}.port"
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start (or start again, on the same port) and wait until it listens."""
        self.portfile.unlink(missing_ok=True)
        args = [str(self.out), str(self.portfile), "--secrets", str(self.secrets_file)]
        args += ["--status", str(self.status), "--delay", str(self.delay), "--port", str(self.port)]
        args += ["--tls", str(self.tls)] if self.tls else []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.webhook_receiver", *args, cwd=os.getcwd()
        )
        deadline = time.monotonic() + 15
        while not self.portfile.exists():
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            await asyncio.sleep(0.02)
        self.port = int(self.portfile.read_text())

    async def stop(self) -> None:
        """Kill it (a receiver that is down)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.proc = None

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def trust(self, secret: str, path: str = "/hook") -> None:
        """Verify requests to `path` with `secret` from now on."""
        known = json.loads(self.secrets_file.read_text()) if self.secrets_file.exists() else {}
        known[path] = secret
        self.secrets_file.write_text(json.dumps(known))

    def records(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The event requests received (not pings), in order, optionally of one kind."""
        return [
            r
            for r in self.records()
            if isinstance(r.get("body"), dict)
            and r["body"].get("type") != "ping"
            and (kind is None or r["body"].get("type") == kind)
        ]

    async def wait_for(
        self, count: int, kind: str | None = None, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Wait until `count` event requests (of `kind`) have come; return them all."""
        deadline = time.monotonic() + timeout
        while len(found := self.events(kind)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} webhook events came within {timeout} s")
            await asyncio.sleep(0.05)
        return found


StartReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[StartReceiver]:
    """A factory: `await receiver(status=204, delay=0.0, tls=None)` starts a receiver process, killed
    after the test (`tls`: a PEM file of certificate and key, for https)."""
    started: list[Receiver] = []

    async def start(status: int = 204, delay: float = 0.0, tls: Path | None = None) -> Receiver:
        found = Receiver(tmp_path, f"receiver{len(started)}", status, delay, tls)
        started.append(found)
        await found.start()
        return found

    yield start
    for found in started:
        await found.stop()
