"""A DNS server for the test bed's Asterisk: Debian's dnsmasq on a loopback address of its own, port 53
(the C library's resolver, which Asterisk's SRV lookups use, only asks port 53), serving the SRV and A
records a test gives. While it runs the chroot's /etc/resolv.conf names it; the original comes back
afterwards."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from tests.testbed.asterisk import AsteriskTestbed

DNSMASQ = "/usr/sbin/dnsmasq"
ADDRESSES = [f"127.0.0.{n}" for n in range(53, 64)]
"""Loopback addresses to try for the server (the first whose port 53 is free)."""


def _free(address: str) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((address, 53))
            except OSError:
                return False
    return True


def _answers(address: str, name: str) -> bool:
    """True once the server answers an SRV query for `name` (a raw query: no resolver library)."""
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x21\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(0.5)
        try:
            client.sendto(query, (address, 53))
            reply = client.recv(512)
        except OSError:
            return False
    return reply[:2] == b"\x12\x34" and int.from_bytes(reply[6:8], "big") > 0


@pytest.fixture
def srv_records(asterisk: AsteriskTestbed) -> Iterator[Callable[..., AbstractContextManager[str]]]:
    """`with srv_records([(SERVICE, TARGET, PORT, PRIORITY), ...], {HOST: ADDRESS}):` serves them to
    the test bed's Asterisk."""
    if shutil.which(DNSMASQ) is None:
        pytest.fail(f"{DNSMASQ} is missing: scripts/test installs dnsmasq-base", pytrace=False)
    resolv = asterisk.host_path("/etc/resolv.conf")

    @contextmanager
    def serve(srv: list[tuple[str, str, int, int]], hosts: dict[str, str]) -> Iterator[str]:
        address = next((a for a in ADDRESSES if _free(a)), None)
        if address is None:
            pytest.fail(f"no free port 53 on {ADDRESSES[0]}..{ADDRESSES[-1]}", pytrace=False)
        args = [
            DNSMASQ,
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            f"--listen-address={address}",
            "--port=53",
            "--user=root",
            "--pid-file=",
        ]
        args += [
            f"--srv-host={service},{target},{port},{priority},0" for service, target, port, priority in srv
        ]
        args += [f"--host-record={host},{ip}" for host, ip in hosts.items()]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        original = resolv.read_bytes() if resolv.exists() else None
        try:
            deadline = time.monotonic() + 10
            while not _answers(address, srv[0][0]):
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    pytest.fail(f"dnsmasq did not answer on {address}: {error}", pytrace=False)
                time.sleep(0.1)
            resolv.write_text(f"nameserver {address}\n")
            yield address
        finally:
            if original is not None:
                resolv.write_bytes(original)
            process.terminate()
            process.wait(5)

    yield serve
