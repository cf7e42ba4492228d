"""The figures the reliability tests measure (written for RELIABILITY.md): each test records them with
`figures(...)`, they travel on the test's report (so they reach the controlling process from an
xdist worker), and they are printed at the end and kept in pytest's cache."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

CACHE_KEY = "did-failover/reliability-figures"
_by_test: dict[str, dict[str, Any]] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`figures(calls=..., correct=..., lost=...)`: record what this test measured."""

    def record(**values: Any) -> None:
        request.node.user_properties.append(("figures", values))

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the figures of a test from its call report, wherever the test ran."""
    if report.when == "call":
        for name, values in report.user_properties:
            if name == "figures":
                _by_test.setdefault(report.nodeid, {}).update(values)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the measured figures and keep them in the cache (`pytest --cache-show 'did-failover/*'`:
    the last figures of each test, also when a run took only some of them)."""
    if not _by_test or hasattr(config, "workerinput"):
        return
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        cache.set(CACHE_KEY, {**cache.get(CACHE_KEY, {}), **_by_test})
    terminalreporter.section("reliability figures")
    for test, values in sorted(_by_test.items()):
        terminalreporter.write_line(f"{test}: {json.dumps(values, sort_keys=True)}")
