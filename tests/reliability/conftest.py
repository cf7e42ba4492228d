"""Shared pieces of the reliability suite: `did-failover serve` as a real process, a timed fake Asterisk,
process gauges from /proc, and the figures each test measures (written for RELIABILITY.md)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from did_failover.storage import Repository
from tests.support import db as support_db

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


def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


async def add_did(repo: Repository, did: str, primary: str, **settings: Any) -> None:
    """A DID of CUSTOMER (unless `account=`) with transfer on and the given settings."""
    await support_db.add_did(repo, did, primary, **{"account": CUSTOMER, **settings})


@contextlib.contextmanager
def source_address(address: str) -> Iterator[socket.socket]:
    """A TCP socket bound to a loopback source address other than 127.0.0.1 (Linux routes all of 127/8)."""
    sock = socket.socket()
    sock.bind((address, 0))
    try:
        yield sock
    finally:
        sock.close()
