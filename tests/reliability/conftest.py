"""Shared pieces of the reliability suite: `did-failover serve` as a real process, a timed fake Asterisk,
and process gauges from /proc (the figures each test measures: tests/plugins/figures.py)."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from did_failover.storage import Repository
from tests.support import db as support_db

BIN = Path(sys.executable).with_name("did-failover")
HOST = "127.0.0.1"
CUSTOMER = "7001"


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
