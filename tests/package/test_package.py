"""The .deb under a real systemd: built from this tree by `scripts/build-deb`, installed with dpkg
into a fresh Debian root booted with systemd-nspawn (no network needed to install), started,
frozen, reloaded, upgraded, removed and purged, as a sysadmin would."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.plugins.nspawn import Boot, Container
from tests.support.net import free_port

UNITS = ("did-failover.service", "did-failover-web.service")
CONFIG = "/etc/did-failover/config.toml"
DB = "/var/lib/did-failover/did-failover.db"


def install(box: Container, deb: Path) -> str:
    """dpkg -i the package; what it printed."""
    return box.run("dpkg", "-i", f"/debs/{deb.name}", timeout=300).stdout


def configure_ports(box: Container, agi: int | None = None) -> dict[str, int]:
    """Free ports for the server, its metrics and the web page (the container shares our network)."""
    ports = {"listen": agi or free_port(), "metrics_listen": free_port(), "web_listen": free_port()}
    script = "".join(
        f"sed -i '/^{key} = /d' {CONFIG} && echo '{key} = \"127.0.0.1:{port}\"' >> {CONFIG} && "
        for key, port in ports.items()
    )
    box.sh(script + "true")
    return ports


def journal(box: Container, unit: str = "did-failover") -> list[dict[str, Any]]:
    """The unit's JSON log lines."""
    lines = box.run("journalctl", "-u", unit, "-o", "cat", "--no-pager").stdout.splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def exposure(box: Container, unit: str) -> float:
    """`systemd-analyze security` of a unit, run inside: its overall exposure (0 best, 10 worst)."""
    out = box.run("systemd-analyze", "security", unit, "--no-pager", check=False).stdout
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert found, out[-500:]
    return float(found.group(1))


def test_the_package_runs_under_systemd_ready_hardened_watched_and_reloadable(
    container: Boot, debs: tuple[Path, Path], figures: Callable[..., None]
) -> None:
    """Installed on a fresh Debian 12: both units are enabled, start and reach READY (Type=notify),
    score 2.0 or better; `systemctl reload` applies a changed setting; a frozen main process is
    restarted by the watchdog."""
    box = container("bookworm")
    out = install(box, debs[0])
    assert "database schema version 7 ready" in out, out
    assert box.sh(f"stat -c '%a %U' /etc/did-failover/credentials {CONFIG}").split("\n")[:2] == [
        "700 root",
        "644 root",
    ]
    assert box.sh("cat /etc/did-failover/credentials/database_url").strip() == f"sqlite:///{DB}"
    assert box.run("systemctl", "is-enabled", *UNITS).stdout.split() == ["enabled", "enabled"]
    assert box.run("systemctl", "is-active", *UNITS, check=False).stdout.split() == ["inactive", "inactive"]
    configure_ports(box)
    started = time.monotonic()
    box.run("systemctl", "start", *UNITS)  # Type=notify: returns once READY=1 came
    figures(start_to_ready_s=round(time.monotonic() - started, 2))
    assert box.run("systemctl", "is-active", *UNITS).stdout.split() == ["active", "active"]
    status = box.run("systemctl", "show", "-p", "StatusText", "--value", "did-failover").stdout
    assert status.startswith("listening on 127.0.0.1:"), status
    scores = {unit: exposure(box, unit) for unit in UNITS}
    figures(security_exposure=scores)
    assert all(score <= 2.0 for score in scores.values()), scores
    assert (
        box.sh("/opt/did-failover/bin/python -c 'import sys; print(sys.version_info[:2])'").strip()
        == "(3, 11)"
    )

    box.sh(f"echo 'max_hops = 7' >> {CONFIG}")
    box.run("systemctl", "reload", "did-failover")
    reloaded = [line for line in journal(box) if line.get("event") == "reloaded"]
    assert reloaded and reloaded[-1]["changed"] == ["max_hops"], reloaded

    pid = box.run("systemctl", "show", "-p", "MainPID", "--value", "did-failover").stdout.strip()
    frozen = time.monotonic()
    box.sh(f"kill -STOP {pid}")
    deadline = frozen + 10 + 2 + 10  # WatchdogSec, RestartSec, a margin
    while time.monotonic() < deadline:
        now = box.run("systemctl", "show", "-p", "MainPID", "--value", "did-failover").stdout.strip()
        active = box.run("systemctl", "is-active", "did-failover", check=False).stdout.strip()
        if now not in (pid, "0") and active == "active":
            break
        time.sleep(0.25)
    else:
        raise AssertionError("the watchdog did not restart the frozen server")
    figures(watchdog_restart_s=round(time.monotonic() - frozen, 2))
    log = box.run("journalctl", "-u", "did-failover", "--no-pager").stdout
    assert "Watchdog timeout" in log


def test_an_upgrade_keeps_the_settings_and_the_database_remove_keeps_them_purge_does_not(
    container: Boot, debs: tuple[Path, Path]
) -> None:
    """A DID made with 0.1.0 is there after the upgrade to a later version, whose postinst ran
    `db init` and restarted the running server; remove keeps the config and the database, purge
    removes both."""
    box = container("bookworm")
    install(box, debs[0])
    configure_ports(box)
    box.run("systemctl", "start", "did-failover")
    admin = "/usr/sbin/did-failover-admin"
    box.sh(f"{admin} account add 2001 --name Acme --type customer")
    box.sh(f"{admin} did add 15551230000 --account 2001 --primary endpoint:desk")
    before = box.run("systemctl", "show", "-p", "MainPID", "--value", "did-failover").stdout.strip()
    edited = box.sh(f"cat {CONFIG}")
    assert 'listen = "127.0.0.1:' in edited  # configure_ports changed the conffile
    upgraded = install(box, debs[1])
    assert "database schema version 7 ready" in upgraded, upgraded
    version = box.sh("dpkg-query -W -f '${Version}' did-failover")
    assert version == debs[1].name.split("_")[1]
    assert box.run("systemctl", "is-active", "did-failover").stdout.strip() == "active"
    assert box.run("systemctl", "show", "-p", "MainPID", "--value", "did-failover").stdout.strip() != before
    assert box.sh(f"cat {CONFIG}") == edited
    assert "15551230000" in box.sh(f"{admin} did list")

    box.run("dpkg", "-r", "did-failover", timeout=120)
    assert (
        box.sh(
            f"test -f {CONFIG} && test -f /var/lib/private/did-failover/did-failover.db && echo kept"
        ).strip()
        == "kept"
    )
    assert box.sh("test -e /opt/did-failover || echo gone").strip() == "gone"
    assert box.run("systemctl", "is-active", "did-failover", check=False).stdout.strip() == "inactive"
    box.run("dpkg", "-P", "did-failover", timeout=120)
    assert (
        box.sh("ls /etc/did-failover /var/lib/private/did-failover 2>&1 || true").count("No such file") == 2
    )


def test_the_package_installs_and_runs_on_debian_13_with_its_python(
    container: Boot, debs: tuple[Path, Path]
) -> None:
    """The same .deb on a fresh Debian 13: the virtualenv is made with its Python 3.13 from the same
    wheels, both units start and answer."""
    box = container("trixie")
    assert "database schema version 7 ready" in install(box, debs[0])
    assert (
        box.sh("/opt/did-failover/bin/python -c 'import sys; print(sys.version_info[:2])'").strip()
        == "(3, 13)"
    )
    configure_ports(box)
    box.run("systemctl", "start", *UNITS)
    assert box.run("systemctl", "is-active", *UNITS).stdout.split() == ["active", "active"]
    assert "OK    database:" in box.sh("/usr/sbin/did-failover-admin check || true")
