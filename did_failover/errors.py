"""The application's own errors, each mapped to one exit code and one kind of message."""

from __future__ import annotations

EXIT_FAILED = 1
"""Exit code when a command could not do its work: database down, cannot listen, a check failed."""
EXIT_INPUT = 2
"""Exit code for bad input: arguments, settings, data, a name not found (nothing was changed)."""


class InvalidDestination(ValueError):
    """A destination or forward list does not follow the pstn:/sip:/endpoint:/voicemail: syntax."""


class InvalidSchedule(ValueError):
    """A schedule (business hours) text does not follow the schedule syntax."""


class InputError(ValueError):
    """A user's input is invalid or names something not found (CLI exit code 2)."""


class StorageUnavailable(Exception):
    """The database cannot be reached or did not answer in time (CLI exit code 1)."""
