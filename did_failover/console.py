"""What every command says to the person who ran it: the exit codes, the one-line error on stderr,
and how long a person at a terminal waits for the database."""

from __future__ import annotations

import sys

EXIT_FAILED = 1
"""Exit code when a command could not do its work: database down, cannot listen, a check failed."""
EXIT_INPUT = 2
"""Exit code for bad input: arguments, settings, data, a name not found (nothing was changed)."""

PERSON_TIMEOUT = 5.0
"""Seconds a command run by a person (and the web page) waits for the database at the least: longer
than a ringing call may (DID_FAILOVER_DB_TIMEOUT), short enough to say what is wrong."""


def error(message: str) -> None:
    """Print a one-line error (each line of a multi-line one) on stderr as `did-failover: error: ...`."""
    for line in message.splitlines() or [""]:
        print(f"did-failover: error: {line}", file=sys.stderr)
