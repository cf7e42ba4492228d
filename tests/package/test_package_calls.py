"""Real calls through the packaged server: the .deb installed in a fresh Debian 12 under a real
systemd, listening on the test bed's AGI port, routing calls from the test bed's Asterisk (the
container shares our network); `systemctl stop` with a call in flight lets it finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from tests.package.test_package import configure_ports, install, journal
from tests.plugins.nspawn import Boot
from tests.routing.bed import AGI_LISTEN, callers
from tests.testbed.asterisk import Ami

ADMIN = "/usr/sbin/did-failover-admin"


async def test_the_packaged_server_routes_real_calls_and_a_stop_lets_the_call_in_flight_finish(
    container: Boot, debs: tuple[Path, Path], ami: Ami, figures: Callable[..., None]
) -> None:
    """A busy primary forwarded to an answering phone, routed by the packaged server; then a call
    ringing when `systemctl stop` comes ends normally (NOANSWER after its ring timeout, not cut),
    the stop waits for it within the grace period, and the journal has one JSON line per call."""
    box = container("bookworm")
    install(box, debs[0])
    configure_ports(box, agi=int(AGI_LISTEN.rpartition(":")[2]))
    box.sh(f"{ADMIN} account add 7001 --name Packaged --type customer")
    box.sh(f"{ADMIN} did add 15553000001 --account 7001 --primary endpoint:busy")
    box.sh(f"{ADMIN} transfer set 15553000001 --busy endpoint:answer")
    box.sh(f"{ADMIN} did add 15553000002 --account 7001 --primary endpoint:ring --ring-timeout 6")
    box.run("systemctl", "start", "did-failover")

    caller = str(next(callers))
    call = await ami.originate("15553000001", caller)
    outcome = await ami.wait_outcome(call, timeout=30)
    assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")

    ringing = await ami.originate("15553000002", str(next(callers)))
    await ami.wait_dest_reached(Dest="ring")
    asked = time.monotonic()
    await asyncio.to_thread(box.run, "systemctl", "stop", "did-failover", timeout=60)
    stopped = time.monotonic() - asked
    late = await ami.wait_outcome(ringing, timeout=30)
    assert late.result == "NOANSWER", late
    figures(stop_with_a_call_in_flight_s=round(stopped, 2))
    assert 1 < stopped < 25, stopped  # waited for the call, within DID_FAILOVER_GRACE_PERIOD
    sessions = [line for line in journal(box) if line.get("event") == "session"]
    assert [(s["did"], s["result"]) for s in sessions] == [
        ("15553000001", "ANSWERED"),
        ("15553000002", "NOANSWER"),
    ]
