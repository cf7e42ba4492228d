"""The rows the repository returns and takes (storage/base.py `Repository`): accounts, DIDs, transfer
settings, the route a call reads, call-history rows, the change log, users, sessions and tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from did_failover.numbers import whole_number

AccountType = Literal["admin", "reseller", "customer"]
CallerIdMode = Literal["keep", "did"]

DEFAULT_RING_TIMEOUT = 30
DEFAULT_TRANSFER_TIMEOUT = 30
DEFAULT_CALLER_ID: CallerIdMode = "keep"


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An account: admin, reseller, or customer owned by a reseller (or by the admin when None)."""

    number: str
    name: str
    type: AccountType
    reseller: str | None
    active: bool
    transfer_enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PageKey:
    """A row's place in one sort order of the DIDs grid: its sort key, then its number."""

    key: str
    number: str


@dataclass(frozen=True, slots=True)
class DIDRow:
    """A DID with its owning account and primary destination (as stored text)."""

    number: str
    account: str
    active: bool
    primary: str
    ring_timeout: int
    max_channels: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewDID:
    """A DID that a CSV import creates: active, the default ring timeout, no channel limit."""

    number: str
    account: str
    primary: str


@dataclass(frozen=True, slots=True)
class TransferRow:
    """The call-transfer settings of one DID; forward lists and the schedule as stored text, None
    when unset."""

    did: str
    enabled: bool
    always: str | None
    busy: str | None
    no_answer: str | None
    unavailable: str | None
    transfer_timeout: int
    """Seconds each forward step rings unless it has its own (the `timeout` column, `--timeout`)."""
    caller_id: CallerIdMode
    updated_by: str
    updated_at: datetime | None = None
    after_hours: str | None = None
    """Where calls go while the schedule says the DID is closed."""
    schedule: str | None = None
    """Business hours (routing/schedule.py); None: always open."""


def default_transfer(did: str) -> TransferRow:
    """The transfer settings of a DID that has no transfer row yet: the schema's column defaults
    (on, no destinations: with nothing to transfer to, calls route as with transfer off)."""
    return TransferRow(
        did=did,
        enabled=True,
        always=None,
        busy=None,
        no_answer=None,
        unavailable=None,
        transfer_timeout=DEFAULT_TRANSFER_TIMEOUT,
        caller_id=DEFAULT_CALLER_ID,
        updated_by="",
    )


@dataclass(frozen=True, slots=True)
class DIDRoute:
    """Everything the routing handler needs for one DID, read with one query."""

    did: str
    did_active: bool
    account_number: str
    account_active: bool
    account_transfer: bool
    primary: str
    ring_timeout: int
    max_channels: int
    transfer_enabled: bool
    always: str | None
    busy: str | None
    no_answer: str | None
    unavailable: str | None
    transfer_timeout: int
    caller_id: str
    after_hours: str | None = None
    schedule: str | None = None


ATTEMPT_SEPARATOR = "|"
"""Between the attempts of the call log's `legs` column: `PRIMARY endpoint:alice BUSY|BUSY#1
pstn:+15551230001 ANSWER`; no destination holds a | or a space."""


class Attempt(NamedTuple):
    """One destination dialled for a call: the leg it was dialled for (PRIMARY, or the condition of
    a forward list), its 1-based step in that list (0 for the primary), the destination, and what
    Dial (DIALSTATUS) or VoiceMail (VMSTATUS) said; None while it had not returned."""

    leg: str
    step: int
    destination: str
    status: str | None = None

    def text(self) -> str:
        """`LEG[#STEP] DESTINATION [STATUS]`, as the call log's `legs` column and the call line keep it
        (`-` for a status that came back empty)."""
        head = f"{self.leg}#{self.step} {self.destination}" if self.step else f"{self.leg} {self.destination}"
        return head if self.status is None else f"{head} {self.status or '-'}"

    @classmethod
    def parse(cls, text: str) -> Attempt:
        """The attempt `text()` wrote."""
        head, _, rest = text.partition(" ")
        destination, _, status = rest.partition(" ")
        leg, _, step = head.partition("#")
        shown_status = None if not status else "" if status == "-" else status
        return cls(leg, whole_number(step, 9) or 0, destination, shown_status)


def attempts_text(attempts: Sequence[Attempt]) -> str | None:
    """The call log's `legs` column for `attempts` (None for none)."""
    return ATTEMPT_SEPARATOR.join(a.text() for a in attempts) or None


def parse_attempts(text: str | None) -> tuple[Attempt, ...]:
    """The attempts a `legs` column holds."""
    return tuple(Attempt.parse(part) for part in text.split(ATTEMPT_SEPARATOR)) if text else ()


class CallRecord(NamedTuple):
    """One routed call, as written to `call_log` (filled by the routing handler).

    A NamedTuple: one is made per call, and a frozen dataclass sets each of 16 fields through
    object.__setattr__."""

    started_at: datetime
    did: str
    result: str
    account_number: str | None = None
    caller: str | None = None
    primary_destination: str | None = None
    primary_dialstatus: str | None = None
    transfer_condition: str | None = None
    transfer_destination: str | None = None
    transfer_dialstatus: str | None = None
    leg: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: int | None = None
    billsec: int | None = None
    uniqueid: str | None = None
    attempts: tuple[Attempt, ...] = ()
    """Every destination dialled, in order (the call log's `legs` column)."""

    def forwarded_to(self) -> list[str]:
        """The destinations the call was forwarded to, in the order they were tried."""
        if not self.attempts:
            return [self.transfer_destination] if self.transfer_destination else []
        return [a.destination for a in self.attempts if a.leg != "PRIMARY"]


ChangeSubject = Literal["account", "did", "transfer", "user"]
ChangeAction = Literal["add", "set", "remove"]


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One field of one account, DID or transfer-settings row changed, as the change log keeps it.

    `value` texts are as stored: numbers and destinations as text, switches `true`/`false`,
    accounts by number; `old` is None for an add and `new` None for a remove."""

    id: int
    changed_at: datetime
    actor: str
    action: ChangeAction
    subject: ChangeSubject
    account: str | None
    did: str | None
    field: str
    old: str | None
    new: str | None
    username: str | None = None
    """The user a `user` change is about."""


Role = Literal["admin", "reseller", "customer"]

PAGE_ORDERS = ("did", "account", "busy", "no_answer", "unavailable", "always", "did_type", "number", "status")
"""The columns a page of DIDs can be sorted by."""


@dataclass(frozen=True, slots=True)
class UserRow:
    """A login of the web page and the API: admin (no account), or a reseller's or customer's."""

    username: str
    role: Role
    account: str | None
    active: bool
    password_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A web session (looked up by the SHA-256 of its token) with its user as it is now."""

    user: UserRow
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


LOGIN_TOKEN = "login"  # noqa: S105 (a token name, not a secret)
"""The name of the API tokens `POST /api/v1/tokens` hands out for a password: a new password ends
them. No long-lived token (`token add`) may take it."""


@dataclass(frozen=True, slots=True)
class TokenRow:
    """An API token (never the token itself: it is shown once, when made)."""

    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None


PageRows = list[tuple[DIDRow, AccountRow, TransferRow | None]]
"""A page of the grid: each DID with its account and its transfer settings (None: it has none)."""


@dataclass(frozen=True, slots=True)
class DIDPage:
    """One page of the grid and where it stands."""

    rows: PageRows
    total: int
    """How many DIDs match in all; at least this many when `total_exact` is False."""
    total_exact: bool
    first: PageKey | None
    """The first row's position in the order (what "previous" pages before), None on an empty page."""
    last: PageKey | None
    """The last row's, for "next"."""
    more_before: bool
    more_after: bool
