"""The Asterisk 22 test bed (tests/testbed, see its README.md): one per session, an AMI client per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.testbed.asterisk import Ami, AsteriskTestbed, TestbedError


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskTestbed]:
    """The running Asterisk test bed for the whole session; fails (never skips) when it
    cannot be provisioned or started."""
    testbed = AsteriskTestbed()
    try:
        testbed.start()
    except TestbedError as exc:
        testbed.shutdown()
        pytest.fail(f"Asterisk test bed unavailable: {exc}", pytrace=False)
    yield testbed
    testbed.shutdown()


@pytest.fixture
async def ami(asterisk: AsteriskTestbed) -> AsyncIterator[Ami]:
    """An AMI client (user testbed) recording events; hangs up leftover calls after the test."""
    async with asterisk.ami() as client:
        yield client
