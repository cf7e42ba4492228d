"""The application's own errors, each mapped to one exit code (did_failover/console.py) and one kind
of message."""

from __future__ import annotations


class InvalidDestination(ValueError):
    """A destination or forward list does not follow the pstn:/sip:/endpoint:/voicemail: syntax."""


class InvalidSchedule(ValueError):
    """A schedule (business hours) text does not follow the schedule syntax."""


class InputError(ValueError):
    """A user's input is invalid or names something not found (CLI exit code 2)."""


class StorageUnavailable(Exception):
    """The database cannot be reached or did not answer in time (CLI exit code 1)."""


class SchemaMismatch(StorageUnavailable):
    """The database answers, but its schema is not the version this did-failover reads (none, older
    or newer): the message says what to run."""
