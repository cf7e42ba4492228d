"""systemd's notify protocol (READY, STATUS, WATCHDOG, RELOADING, STOPPING): a datagram to NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time

from did_failover.logs import get_logger
from did_failover.numbers import whole_number

log = get_logger("did_failover.runtime.sdnotify")


def notify(*assignments: str) -> bool:
    """Send `KEY=VALUE` lines to systemd; a no-op (False) when NOTIFY_SOCKET is unset or unreachable."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or not assignments:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    message = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        log.warning("cannot notify systemd", error=str(exc), socket=os.environ.get("NOTIFY_SOCKET"))
        return False
    return True


def ready(status: str) -> bool:
    """The service is up: READY=1 with a STATUS line."""
    return notify("READY=1", f"STATUS={status}")


def reloading() -> bool:
    """A reload starts: RELOADING=1 with the CLOCK_MONOTONIC timestamp systemd matches it by."""
    return notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")


def stopping(status: str) -> bool:
    """Shutdown has begun: STOPPING=1 with a STATUS line."""
    return notify("STOPPING=1", f"STATUS={status}")


def status(text: str) -> bool:
    """A free-form STATUS line (shown by `systemctl status`)."""
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None when no watchdog is asked for."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    interval = whole_number(usec, 20)
    if not interval:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (e.g. a wrapper that exec'd us is not the main PID)
    return interval / 1_000_000 / 2


async def watchdog(interval: float) -> None:
    """Send WATCHDOG=1 every `interval` seconds from the event loop itself.

    Running in the loop is the point: when a callback blocks the loop, the pings stop and systemd
    restarts the service after WatchdogSec.
    """
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def start_watchdog() -> asyncio.Task[None] | None:
    """Start the watchdog task when systemd asked for one; None otherwise."""
    interval = watchdog_interval()
    if interval is None:
        return None
    log.info("systemd watchdog", interval_s=interval)
    return asyncio.get_running_loop().create_task(watchdog(interval), name="sd-watchdog")


async def stop_watchdog(task: asyncio.Task[None] | None) -> None:
    """Cancel the watchdog task and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
