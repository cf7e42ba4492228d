"""The DID edit form: per forward list, a row per step (type, text, ring seconds), turned into the
CLI's one forward-list syntax (`pstn:...,sip:.../20,voicemail:...`) before the service layer checks it;
a refusal is shown next to its input, named by its label.

No JavaScript: a list shows its steps and one empty row (up to five); a step is added by filling the
empty row and saving, removed by setting its type to None. A "Ring all" step's text is its members
as the CLI writes them (`endpoint:desk&pstn:+15551230001`); a step's "callee presses 1" box is the
list text's `/confirm`. Step 1 keeps the field names the form had
before lists (`busy_type`, `busy_destination`); step N is `busy_N_type`, `busy_N_destination`, and
every step has `..._timeout`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from did_failover.admin.views import TransferView
from did_failover.conditions import FIELDS, Condition
from did_failover.errors import InputError, InvalidDestination
from did_failover.numbers import typed_number, whole_number
from did_failover.routing.destinations import parse_destination
from did_failover.routing.forwards import (
    CONFIRM,
    MAX_STEPS,
    MEMBER_SEPARATOR,
    SEPARATOR,
    TIMEOUT_MARK,
    parse_forwards,
    ring_timeout,
)

CONDITIONS = [(condition.field, condition.label) for condition in Condition]
TYPES = [
    ("none", "None"),
    ("pstn", "PSTN"),
    ("sip", "SIP URI"),
    ("endpoint", "SIP device"),
    ("voicemail", "Voicemail"),
    ("ringall", "Ring all"),
]
_TYPES = {value for value, _ in TYPES}
_LABELS = {
    "schedule": "Business hours",
    "timeout": "Transfer timeout",
    "caller_id": "Caller ID",
    "enabled": "Call transfer",
    "url": "URL",
    "events": "Events",
    "reseller": "Reseller",
}
"""The page's words for the fields of the form that are not forward lists."""


RING = "_ring"
"""The suffix of a forward list's field that names a step's ring seconds (`busy_ring`)."""


def label(field: str, item: int | None = None) -> str:
    """How the page names a refused field: the label of its input ("Busy step 2 destination",
    "Busy step 2 ring seconds")."""
    condition = Condition.of_field(field.removesuffix(RING))
    if condition is None:
        return _LABELS.get(field, field)
    step = f"{condition.label} step {item}" if item and item > 1 else condition.label
    return f"{step} ring seconds" if field.endswith(RING) else f"{step} destination"


def slot(refusal: InputError) -> str:
    """Which part of the form a refusal is shown next to: a forward list, the schedule, the timeout
    or the caller ID ("" for the form as a whole)."""
    field = (refusal.field or "").removesuffix(RING)
    return field if field in (*FIELDS, "schedule", "timeout", "caller_id") else ""


@dataclass
class Row:
    """One step of a forward list as the form shows it."""

    type: str = "none"
    text: str = ""
    timeout: str = ""
    confirm: bool = False


def prefix(key: str, position: int) -> str:
    """The field-name prefix of step `position` (1-based) of list `key`."""
    return key if position == 1 else f"{key}_{position}"


def rows_of(stored: str | None) -> list[Row]:
    """A stored forward list as form rows, plus one empty row while there is room."""
    rows = []
    try:
        steps = parse_forwards(stored or "", "forwards")
    except InvalidDestination:  # edited by hand into something invalid: shown as it is
        steps = ()
        for item in (stored or "").split(SEPARATOR) if stored else []:
            destination, _, timeout = item.partition(TIMEOUT_MARK)
            kind, text = split(destination)
            rows.append(Row(kind, text, timeout))
    for step in steps:
        timeout = "" if step.timeout is None else str(step.timeout)
        if len(step.members) > 1:
            rows.append(Row("ringall", step.destination, timeout, step.confirm))
        else:
            kind, text = split(step.destination)
            rows.append(Row(kind, text, timeout, step.confirm))
    return with_room(rows)


def with_room(rows: list[Row]) -> list[Row]:
    """The rows and one empty row to add a step in, while the list has room."""
    return [*rows, Row()] if len(rows) < MAX_STEPS else rows


def split(destination: str | None) -> tuple[str, str]:
    """A stored destination as (type, what the text field shows)."""
    if not destination:
        return "none", ""
    kind, _, rest = destination.partition(":")
    return (kind, rest) if kind in _TYPES else ("none", destination)


def join(kind: str, text: str) -> str:
    """The destination the service layer is given (and checks); `none` clears the condition."""
    if kind == "none":
        return "none"
    text = text.strip()
    if kind == "ringall":
        return MEMBER_SEPARATOR.join(member.strip() for member in text.split(MEMBER_SEPARATOR))
    if kind == "sip":
        text = text.removeprefix("sip:")
    return f"{kind}:{text}"


@dataclass
class TransferForm:
    """What the form holds: as stored, or as the user typed it."""

    steps: dict[str, list[Row]] = field(default_factory=dict)
    timeout: str = ""
    caller_id: str = "keep"
    enabled: bool = False
    schedule: str = ""

    @classmethod
    def from_view(cls, view: TransferView) -> TransferForm:
        form = cls(
            timeout=str(view.transfer_timeout),
            caller_id=view.caller_id,
            enabled=view.enabled,
            schedule=view.schedule or "",
        )
        for key, _ in CONDITIONS:
            form.steps[key] = rows_of(getattr(view, key))
        return form

    @classmethod
    def from_form(cls, data: Mapping[str, Any]) -> TransferForm:
        def text(name: str) -> str:
            value = data.get(name)
            return value if isinstance(value, str) else ""

        form = cls(
            timeout=text("timeout").strip(),
            caller_id=text("caller_id"),
            enabled=text("enabled") == "on",
            schedule=text("schedule"),
        )
        for key, _ in CONDITIONS:
            rows = [
                Row(
                    text(f"{prefix(key, n)}_type") or "none",
                    text(f"{prefix(key, n)}_destination"),
                    text(f"{prefix(key, n)}_timeout").strip(),
                    text(f"{prefix(key, n)}_confirm") == "on",
                )
                for n in range(1, MAX_STEPS + 1)
            ]
            # Shown again as typed: the filled rows, then one empty row while there is room.
            filled = [row for row in rows if row.type != "none" or row.text.strip()]
            form.steps[key] = with_room(filled)
        return form

    def changes(self) -> dict[str, Any]:
        """Keyword arguments of Service.set_transfer. Each step is checked here on its own first, so
        that a refusal names the input it came from (a destination holding `/` or `,` is a bad
        destination, never a ring timeout or a second step); the service checks everything again."""
        values: dict[str, Any] = {}
        for key, _ in CONDITIONS:
            items = []
            for position, row in enumerate(self.steps[key], 1):
                if row.type == "none":
                    continue
                text = typed_number(row.text) if row.type == "pstn" else row.text
                destination = join(row.type, text)
                try:
                    for member in (
                        destination.split(MEMBER_SEPARATOR) if row.type == "ringall" else [destination]
                    ):
                        parse_destination(member, key, position)
                except InvalidDestination as exc:
                    raise InputError(exc.reason, key, position) from None
                if row.timeout and ring_timeout(row.timeout) is None:
                    raise InputError(f"must be 1..300, got {row.timeout[:20]!r}", key + RING, position)
                marks = (TIMEOUT_MARK + row.timeout if row.timeout else "") + (
                    TIMEOUT_MARK + CONFIRM if row.confirm else ""
                )
                items.append(destination + marks)
            values[key] = SEPARATOR.join(items) or "none"
        timeout = whole_number(self.timeout, 3)
        if timeout is None:
            raise InputError(
                f"must be a whole number of seconds 1..300, got {self.timeout[:20]!r}", "timeout"
            )
        values["timeout"] = timeout  # 1..300 is the service's check, with its message
        values["caller_id"] = self.caller_id
        values["enabled"] = self.enabled
        values["schedule"] = self.schedule.strip() or "none"
        return values

    def values(self) -> dict[str, Any]:
        """What the template shows."""
        return {
            "timeout": self.timeout,
            "caller_id": self.caller_id,
            "enabled": self.enabled,
            "schedule": self.schedule,
            "steps": self.steps,
        }
