"""A fresh Debian root booted with a real systemd under systemd-nspawn, with the .deb built from this
tree: for the package tests (tests/package/). The root is debootstrapped once
(`scripts/provision-nspawn`) and booted `--ephemeral`, so every container starts from the fresh root
and leaves nothing behind. It shares the host's network: the machine's MariaDB and the test bed's
Asterisk are reachable from inside, and the packaged server listens on ports the test picks.

Commands run inside with `nsenter` into the container's init: `machinectl` needs a host systemd,
which these machines lack."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.examples import ROOT

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class Container:
    """One booted container: `run` a command in it, `stop` it."""

    def __init__(self, root: Path, debs: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [
                "systemd-nspawn",
                "-D",
                str(root),
                "--ephemeral",
                "--boot",
                "--register=no",
                "--keep-unit",
                "--console=read-only",
                f"--bind-ro={debs}:/debs",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.init = self._init_pid()
        deadline, state = time.monotonic() + 90, ""
        while state not in ("running", "degraded") and time.monotonic() < deadline:
            # Until the container's bus is up, systemctl cannot ask and prints nothing.
            state = self.run(
                "systemctl", "is-system-running", "--wait", check=False, timeout=90
            ).stdout.strip()
            if not state:
                time.sleep(0.2)
        assert state in ("running", "degraded"), f"the container's systemd is {state!r}"

    def _init_pid(self, timeout: float = 30.0) -> int:
        """The container's PID 1 as the host sees it: the systemd child of systemd-nspawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.proc.returncode}")
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            for pid in children.read_text().split() if children.exists() else []:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            time.sleep(0.1)
        raise TimeoutError("the container's systemd did not start")

    def run(
        self, *argv: str, check: bool = True, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside, with a clean environment (nothing of this machine's pip or shell)."""
        done = subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.init),
                "-m",
                "-u",
                "-i",
                "-n",
                "-p",
                "--",
                "env",
                "-i",
                f"PATH={PATH}",
                *argv,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stdout}{done.stderr}")
        return done

    def sh(self, script: str, check: bool = True, timeout: float = 120) -> str:
        """Run a shell script inside; its stdout."""
        return self.run("sh", "-c", script, check=check, timeout=timeout).stdout

    def stop(self) -> None:
        """Power the container off (its ephemeral copy goes with it)."""
        if self.proc.poll() is None:
            self.run("systemctl", "poweroff", check=False, timeout=30)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)


def provision(dist: str) -> Path:
    """The fresh root of `dist` (debootstrapped the first time, a few minutes)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "provision-nspawn"), dist], capture_output=True, text=True, timeout=1200
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/provision-nspawn {dist} failed: {done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def build_deb(out: Path, version: str | None = None) -> Path:
    """`scripts/build-deb` into `out`; the .deb's path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEB_")}
    if version:
        env["DEB_VERSION"] = version
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-deb"), str(out)], capture_output=True, text=True, env=env, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-deb failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def later_version(deb: Path, version: str) -> Path:
    """The same package under a later version (the upgrade path): unpacked, renumbered, packed."""
    tree = deb.parent / f"tree-{version}"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    lines = [
        f"Version: {version}" if line.startswith("Version: ") else line
        for line in control.read_text().splitlines()
    ]
    control.write_text("\n".join(lines) + "\n")
    later = deb.parent / f"did-failover_{version}_amd64.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(later)], check=True, capture_output=True
    )
    return later


@pytest.fixture(scope="session")
def debs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The .deb of this tree, and the same under a later version (the upgrade), in one folder."""
    current = build_deb(tmp_path_factory.mktemp("debs"))
    return current, later_version(current, current.name.split("_")[1] + "+test1")


Boot = Callable[[str], Container]


@pytest.fixture
def container(debs: tuple[Path, Path]) -> Iterator[Boot]:
    """`container("bookworm")`: a booted fresh root of that Debian, the .debs under /debs; powered
    off after the test."""
    started: list[Container] = []

    def boot(dist: str) -> Container:
        box = Container(provision(dist), debs[0].parent)
        started.append(box)
        return box

    yield boot
    for box in started:
        box.stop()
