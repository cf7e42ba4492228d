"""Markers from what a test uses: the fixture that brings in Asterisk, MariaDB or Chromium marks the test.

So `pytest -m "not asterisk and not mysql"` runs on a laptop without root, without the chroot and
without MariaDB, and no test can use a peer and forget its marker.
"""

from __future__ import annotations

import pytest

MARK_BY_FIXTURE = {
    "asterisk": "asterisk",
    "mysql_url": "mysql",
    "own_mariadb": "mysql",
    "browser": "browser",
    "galera": "galera",
    "redis_prefix": "redis",
    "redis_server": "redis",
    "container": "nspawn",
}
"""Fixture -> marker; a fixture that needs one of these (`ami` needs `asterisk`) marks it too."""

TESTBED = {"asterisk", "galera"}
"""The fixtures of the `testbed` mark: the Asterisk test bed (fixed ports, one per machine) and the
Galera cluster (whose tests route real calls too). `scripts/test` runs `-m testbed` in one pytest,
in order, beside a second pytest with the rest."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the peers its fixtures start."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in MARK_BY_FIXTURE.items():
            if fixture in used:
                item.add_marker(marker)
        if used & TESTBED:
            item.add_marker("testbed")
