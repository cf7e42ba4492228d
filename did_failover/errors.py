"""The application's own errors, each mapped to one exit code (did_failover/console.py) and one kind
of message.

A refusal is a type that carries what it is about, as Starlette's HTTPException carries its status:
`field` is the key of the value refused (`busy`, `ring_timeout`, `did`: the service layer's argument
names, which are also the CLI's option names), `item` the step of a forward list, and `reason` says
what is wrong without naming the field. Each shell names the field in its own words (the CLI
`--busy item 2`, the page "Busy step 2 destination", the API `busy.destination item 2`) and picks its
status or exit code from the type, never from the text.
"""

from __future__ import annotations

from collections.abc import Callable

Namer = Callable[[str, "int | None"], str]
"""How a shell names a field (and a step of a list): `(field, item) -> words`."""


def _keys(field: str, item: int | None) -> str:
    return field + (f" item {item}" if item else "")


class _Refusal(ValueError):
    def __init__(self, reason: str, field: str | None = None, item: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.field, self.item = reason, field, item

    def words(self, name: Namer = _keys) -> str:
        """The one-line refusal with its field named by `name` (by default, its key)."""
        return self.reason if self.field is None else f"{name(self.field, self.item)}: {self.reason}"

    def __str__(self) -> str:
        return self.words()


class InvalidDestination(_Refusal):
    """A destination or forward list does not follow the pstn:/sip:/endpoint:/voicemail: syntax."""


class InvalidSchedule(ValueError):
    """A schedule (business hours) text does not follow the schedule syntax."""


class InputError(_Refusal):
    """A user's input is refused (CLI exit code 2, API 422, the page 400 next to its field)."""


class NothingToChange(InputError):
    """A change that names no setting; `fields` are the ones it could have named."""

    def __init__(self, *fields: str) -> None:
        super().__init__("nothing to change")
        self.fields = fields

    def words(self, name: Namer = _keys) -> str:
        """`nothing to change: give A, B or C`, each field named by `name`."""
        named = [name(field, None) for field in self.fields]
        return f"nothing to change: give {', '.join(named[:-1])} or {named[-1]}" if named else self.reason


class NotFound(InputError):
    """What the input names does not exist, or is outside the caller's scope (API and page 404)."""


class Conflict(InputError):
    """What the input would create exists already (API 409); numbers are global, so it names no owner."""


class Forbidden(InputError):
    """The caller's role may not do this at all (API 403): a customer changing more than its forwards."""


class StorageUnavailable(Exception):
    """The database cannot be reached or did not answer in time (CLI exit code 1)."""


class SchemaMismatch(StorageUnavailable):
    """The database answers, but its schema is not the version this did-failover reads (none, older
    or newer): the message says what to run."""
