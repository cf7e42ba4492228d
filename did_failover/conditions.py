"""The five forward lists of a DID, as one vocabulary: each condition with every name it has.

A leaf module: the CLI's options, the page's labels, the API's forward kinds, the database's
columns and DID_FAILOVER_LEG are all derived from this enum, so no list of them is written twice.
"""

from __future__ import annotations

from enum import Enum


class Condition(Enum):
    """A forward list: when the call goes to it, and what each interface calls it."""

    BUSY = ("busy", "busy", "Busy", "BUSY")
    NO_ANSWER = ("no_answer", "noanswer", "No answer", "NO_ANSWER")
    UNAVAILABLE = ("unavailable", "unavailable", "Unavailable", "UNAVAILABLE")
    ALWAYS = ("always", "unconditional", "Always", "ALWAYS")
    AFTER_HOURS = ("after_hours", "afterhours", "After hours", "AFTER_HOURS")

    def __init__(self, field: str, wazo: str, label: str, leg: str) -> None:
        self.field = field
        """The service layer's argument, the CSV column, the TransferRow attribute."""
        self.wazo = wazo
        """Wazo's name for the forward (and `afterhours`): the REST API takes it as an alias of
        `field`, in paths and bodies, and answers with `field`."""
        self.label = label
        """The page's words."""
        self.leg = leg
        """DID_FAILOVER_LEG of a call this list handled."""

    @property
    def flag(self) -> str:
        """The CLI option: `--no-answer`."""
        return "--" + self.field.replace("_", "-")

    @property
    def column(self) -> str:
        """The database column: `no_answer_destination`."""
        return f"{self.field}_destination"

    @classmethod
    def of_field(cls, field: str) -> Condition | None:
        """The condition whose field is `field`, None for any other field."""
        return _BY_FIELD.get(field)


_BY_FIELD = {condition.field: condition for condition in Condition}

FIELDS = tuple(condition.field for condition in Condition)
"""Every forward list's field, in the page's order."""
