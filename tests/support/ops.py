"""Helpers for the operations tests: a systemd notify socket, the environment and CLI of `serve`."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path

from tests.support.serve import BIN


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


async def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `did-failover ARGS` (with `stdin` as its standard input); the exit code, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        BIN,
        *args,
        env=env,
        stdin=None if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(None if stdin is None else stdin.encode()), 30)
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
