"""The DID edit form: a type select and a text field per condition, turned into the CLI's one
destination syntax (`pstn:...`, `sip:...`, `endpoint:...`) before the service layer checks it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from did_failover.admin.views import TransferView

CONDITIONS = [
    ("busy", "Busy"),
    ("no_answer", "No answer"),
    ("unavailable", "Unavailable"),
    ("always", "Always"),
]
TYPES = [("none", "None"), ("pstn", "PSTN"), ("sip", "SIP URI"), ("endpoint", "SIP device")]
_TYPES = {value for value, _ in TYPES}
_FIELDS = {
    "--busy": "busy",
    "--no-answer": "no_answer",
    "--unavailable": "unavailable",
    "--always": "always",
    "--timeout": "timeout",
    "--caller-id": "caller_id",
}


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
    if kind == "sip":
        text = text.removeprefix("sip:")
    return f"{kind}:{text}"


@dataclass
class TransferForm:
    """What the form holds: as stored, or as the user typed it."""

    types: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    timeout: str = ""
    caller_id: str = "keep"
    enabled: bool = False

    @classmethod
    def from_view(cls, view: TransferView) -> TransferForm:
        form = cls(timeout=str(view.timeout), caller_id=view.caller_id, enabled=view.enabled)
        for key, _ in CONDITIONS:
            form.types[key], form.texts[key] = split(getattr(view, key))
        return form

    @classmethod
    def from_form(cls, data: Mapping[str, Any]) -> TransferForm:
        def text(name: str) -> str:
            value = data.get(name)
            return value if isinstance(value, str) else ""

        form = cls(
            timeout=text("timeout").strip(), caller_id=text("caller_id"), enabled=text("enabled") == "on"
        )
        for key, _ in CONDITIONS:
            form.types[key] = text(f"{key}_type") or "none"
            form.texts[key] = text(f"{key}_destination")
        return form

    def changes(self) -> dict[str, Any]:
        """Keyword arguments of Service.set_transfer; the service validates every one."""
        values: dict[str, Any] = {key: join(self.types[key], self.texts[key]) for key, _ in CONDITIONS}
        try:
            values["timeout"] = int(self.timeout)
        except ValueError:
            values["timeout"] = -1  # refused by the service with the CLI's message for --timeout
        values["caller_id"] = self.caller_id
        values["enabled"] = self.enabled
        return values

    def values(self) -> dict[str, Any]:
        """What the template shows."""
        shown: dict[str, Any] = {
            "timeout": self.timeout,
            "caller_id": self.caller_id,
            "enabled": self.enabled,
        }
        for key, _ in CONDITIONS:
            shown[f"{key}_type"] = self.types[key]
            shown[f"{key}_destination"] = self.texts[key]
        return shown

    @staticmethod
    def field_of(message: str) -> str:
        """The form field a service-layer message is about ("" when none)."""
        return _FIELDS.get(message.partition(":")[0], "")
