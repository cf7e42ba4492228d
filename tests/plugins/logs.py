"""Captured log lines: structlog's JSON output in memory, parsed."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from did_failover import logs


class LogCapture:
    """The structured log lines the code under test wrote, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far."""
        logs.flush()
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def events(self, event: str) -> list[dict[str, Any]]:
        """Lines whose event is `event`."""
        return [line for line in self.lines if line["event"] == event]


@pytest.fixture
def log_capture() -> LogCapture:
    """Route structlog's JSON output into memory for the test."""
    capture = LogCapture()
    logs.configure("debug", "json", capture.stream)
    return capture
