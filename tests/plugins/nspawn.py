"""A fresh Debian root booted with a real systemd under systemd-nspawn, with the .deb built from this
tree: for the package tests (tests/package/). The root is debootstrapped once
(`scripts/provision-nspawn`) and booted `--ephemeral`, so every container starts from the fresh root
and leaves nothing behind. It shares the host's network: the machine's MariaDB and the test bed's
Asterisk are reachable from inside, and the packaged server listens on ports the test picks.

Commands run inside with `nsenter` into the container's init: `machinectl` needs a host systemd,
which these machines lack."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.examples import ROOT

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CACHE = Path(os.environ.get("DID_FAILOVER_NSPAWN_CACHE", "/var/cache/did-failover"))


class Container:
    """One booted container: `run` a command in it, `stop` it."""

    def __init__(self, root: Path, debs: Path) -> None:
        self.root = root
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - systemd-nspawn's own messages, for a failure
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
            stderr=self.log,
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

    def _init_pid(self, timeout: float = 180.0) -> int:
        """The container's PID 1 as the host sees it: the systemd child of systemd-nspawn (which
        first copies the root for --ephemeral: slow while other containers and tests load the disk)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.proc.returncode}: {self._said()}")
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            for pid in children.read_text().split() if children.exists() else []:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            time.sleep(0.1)
        raise TimeoutError(f"the container's systemd did not start within {timeout:g} s: {self._said()}")

    def _said(self) -> str:
        """The end of what systemd-nspawn printed."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-1500:]

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
        self.log.close()


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
    shutil.rmtree(tree)
    return later


def _tree_digest() -> str:
    """A digest of every file git knows in this tree, as it is on disk: which .deb it builds."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    digest = hashlib.sha256()
    for name in sorted(names.decode().split("\0")):
        path = ROOT / name
        if name and path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def debs() -> tuple[Path, Path]:
    """The .deb of this tree, and the same under a later version (the upgrade), in one folder.
    Built once per tree content: the two pytest runs of scripts/test (and xdist's workers) share it
    through a folder named by the tree's digest, the first one building while the others wait."""
    out = CACHE / "debs" / _tree_digest()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = sorted(out.glob("did-failover_*_amd64.deb"))
        if len(built) != 2:
            for stale in out.parent.iterdir():  # the packages of earlier trees
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
            out.mkdir()
            current = build_deb(out)
            later_version(current, current.name.split("_")[1] + "+test1")
            built = sorted(out.glob("did-failover_*_amd64.deb"))
    current, later = built
    if "+test1" in current.name:
        current, later = later, current
    return current, later


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
