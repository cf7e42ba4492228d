"""The Asterisk 22 test bed (tests/testbed, see its README.md): one per session, an AMI client per test.
A second Asterisk in the same chroot (instance B, other ports and folders) starts for the
multi-node tests only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.testbed.asterisk import INSTANCE_B, Ami, AsteriskTestbed, TestbedError


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskTestbed]:
    """The running Asterisk test bed for the whole session; fails (never skips) when it
    cannot be provisioned or started."""
    yield from _running(AsteriskTestbed(), "Asterisk test bed")


@pytest.fixture(scope="module")
def asterisk_b(asterisk: AsteriskTestbed) -> Iterator[AsteriskTestbed]:
    """A second running Asterisk (instance B: AMI 15039, SIP 15061) in the chroot that `asterisk`
    has mounted, for the tests of two Asterisk boxes; stopped at the end of their module, so that it
    takes no CPU from the rest of the suite."""
    yield from _running(AsteriskTestbed(asterisk.root, INSTANCE_B), "Asterisk test bed B")


def _running(testbed: AsteriskTestbed, name: str) -> Iterator[AsteriskTestbed]:
    """Start `testbed`, yield it, shut it down; fail (never skip) when it does not start."""
    try:
        testbed.start()
    except TestbedError as exc:
        testbed.shutdown()
        pytest.fail(f"{name} unavailable: {exc}", pytrace=False)
    yield testbed
    testbed.shutdown()


@pytest.fixture
async def ami(asterisk: AsteriskTestbed) -> AsyncIterator[Ami]:
    """An AMI client (user testbed) recording events; hangs up leftover calls after the test."""
    async with asterisk.ami() as client:
        yield client


@pytest.fixture
async def ami_b(asterisk_b: AsteriskTestbed) -> AsyncIterator[Ami]:
    """An AMI client of Asterisk B, like `ami`."""
    async with asterisk_b.ami() as client:
        yield client
