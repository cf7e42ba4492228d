"""Helpers for the operations tests: a systemd notify socket, a `did-failover serve` process, HTTP GET."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).with_name("did-failover")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NotifySocket:
    """The AF_UNIX datagram socket systemd listens on for sd_notify messages."""

    def __init__(self) -> None:
        # Short path: sun_path holds 108 bytes, pytest's tmp_path may be longer.
        self.folder = tempfile.mkdtemp(prefix="sdn")
        self.path = os.path.join(self.folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)

    async def receive(self, timeout: float = 20.0) -> dict[str, str]:
        """The next message, as its KEY=VALUE lines."""
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), timeout)
        return dict(line.split("=", 1) for line in data.decode().splitlines())

    async def wait_for(self, key: str, timeout: float = 20.0) -> dict[str, str]:
        """Skip messages until one carries `key`; return it."""
        while True:
            message = await self.receive(timeout)
            if key in message:
                return message

    def pending(self) -> list[dict[str, str]]:
        """Messages already queued, without waiting."""
        messages = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return messages
            messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    def close(self) -> None:
        """Close and remove the socket."""
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.folder)


def serve_env(tmp_path: Path, port: int, metrics_port: int | None = None, **extra: str) -> dict[str, str]:
    """The environment of a `did-failover serve` on a SQLite file in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DID_FAILOVER_", "NOTIFY_", "WATCHDOG_"))}
    env.update(
        {
            "DID_FAILOVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "DID_FAILOVER_LISTEN": f"127.0.0.1:{port}",
            "DID_FAILOVER_METRICS_LISTEN": f"127.0.0.1:{metrics_port}" if metrics_port else "",
            "DID_FAILOVER_LOG_FORMAT": "json",
            **extra,
        }
    )
    return env


async def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `did-failover ARGS`; return the exit code, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        BIN, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def sample_did(env: dict[str, str]) -> None:
    """db init, a customer and DID 15551230000 whose BUSY goes to pstn:+15557654321."""
    for args in (
        ("db", "init"),
        ("account", "add", "2001", "--name", "Acme Ltd", "--type", "customer"),
        ("did", "add", "+15551230000", "--account", "2001", "--primary", "endpoint:acme-desk"),
        ("transfer", "set", "15551230000", "--busy", "pstn:+15557654321", "--on"),
    ):
        code, out, err = await cli(env, *args)
        assert code == 0, (args, out, err)


class ServeProcess:
    """A running `did-failover serve` whose JSON log lines are read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> ServeProcess:
        """Start `did-failover [ARGS] serve` and wait for its `listening` line."""
        proc = await asyncio.create_subprocess_exec(
            BIN, *args, "serve", env=env, stdout=asyncio.subprocess.PIPE
        )
        serve = cls(proc)
        await serve.wait_for("listening")
        return serve

    async def wait_for(self, event: str, timeout: float = 20.0) -> dict[str, Any]:
        """Read log lines until one with `event`; return it."""
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            assert raw, f"serve exited before {event!r}"
            line = json.loads(raw)
            self.lines.append(line)
            if line["event"] == event:
                return line

    async def stop(self) -> list[dict[str, Any]]:
        """SIGTERM; return the remaining log lines after checking the exit code is 0."""
        if self.proc.returncode is None:
            self.proc.terminate()
        rest, _ = await asyncio.wait_for(self.proc.communicate(), 30)
        assert self.proc.returncode == 0
        more = [json.loads(line) for line in rest.decode().splitlines()]
        self.lines.extend(more)
        return more


async def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:PORT/PATH; return the status code and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), body
