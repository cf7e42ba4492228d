"""`did-failover ARGS...` run in-process against a test database, as a sysadmin types it."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from did_failover.main import main


@dataclass
class Result:
    """What one command did: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


Run = Callable[..., Result]


def in_process_cli(repo_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """A runner: `run(*argv, stdin="")`; the change log names its actor cli:alice."""
    monkeypatch.setenv("DID_FAILOVER_DATABASE_URL", repo_url)
    monkeypatch.setenv("SUDO_USER", "alice")
    capsys.readouterr()

    def run(*argv: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def ok(result: Result) -> Result:
    """Assert a command succeeded quietly on stderr."""
    assert (result.code, result.err) == (0, ""), result
    return result
