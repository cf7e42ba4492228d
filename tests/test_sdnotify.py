"""systemd notify protocol: READY, STATUS, WATCHDOG, RELOADING and STOPPING on a real datagram socket."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from did_failover.runtime import sdnotify
from tests.support.net import free_port
from tests.support.ops import NotifySocket, cli, serve_env
from tests.support.serve import ServeProcess


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    """A bound AF_UNIX datagram socket standing in for systemd's."""
    sock = NotifySocket()
    yield sock
    sock.close()


async def test_serve_tells_systemd_ready_watchdog_reloading_and_stopping(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    """Under systemd, serve sends READY=1 once listening, pings the watchdog, and reports reload and stop."""
    port = free_port()
    env = serve_env(tmp_path, port, NOTIFY_SOCKET=notify_socket.path, WATCHDOG_USEC="1000000")
    assert (await cli(env, "db", "init"))[0] == 0
    serve = await ServeProcess.launch(env)
    ready = await notify_socket.wait_for("READY")
    assert ready["READY"] == "1" and f"listening on 127.0.0.1:{port}" in ready["STATUS"]
    for _ in range(2):
        assert (await notify_socket.wait_for("WATCHDOG")) == {"WATCHDOG": "1"}

    serve.signal(signal.SIGHUP)
    reloading = await notify_socket.wait_for("RELOADING")
    now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert reloading["RELOADING"] == "1"
    assert 0 < now_usec - int(reloading["MONOTONIC_USEC"]) < 60_000_000  # the same clock as systemd's
    again = await notify_socket.wait_for("READY")
    assert again["STATUS"].startswith("reloaded; listening on")

    serve.signal(signal.SIGTERM)
    stopping = await notify_socket.wait_for("STOPPING")
    assert stopping["STOPPING"] == "1" and "stopping" in stopping["STATUS"]
    assert await serve.stop() == 0


def test_watchdog_pings_at_half_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """WATCHDOG_USEC=4 s gives a ping every 2 s; no watchdog, or one meant for another PID, gives none."""
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert sdnotify.watchdog_interval() is None


async def test_a_blocked_event_loop_stops_the_watchdog_pings(
    monkeypatch: pytest.MonkeyPatch, notify_socket: NotifySocket
) -> None:
    """While a callback blocks the loop no WATCHDOG=1 is sent, so systemd would restart the service."""
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 50 ms
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    task = sdnotify.start_watchdog()
    try:
        assert (await notify_socket.receive()) == {"WATCHDOG": "1"}
        await asyncio.sleep(0.2)
        assert notify_socket.pending(), "the watchdog pings while the loop runs"
        time.sleep(0.5)  # the event loop is blocked: ten ping periods pass
        assert notify_socket.pending() == []
        assert (await notify_socket.receive()) == {"WATCHDOG": "1"}  # and resume once it runs again
    finally:
        await sdnotify.stop_watchdog(task)


def test_notify_is_a_no_op_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside systemd nothing is sent and nothing fails."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.ready("listening") is False
    assert sdnotify.start_watchdog() is None


def test_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOTIFY_SOCKET=@name is the abstract namespace, as systemd sometimes passes it."""
    import socket

    name = f"did-failover-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.status("hello")
        assert sock.recv(4096) == b"STATUS=hello"
