"""The rows of webhook subscriptions and their event outbox (storage/_webhooks.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from did_failover.storage.records import CallRecord, ChangeRow

WebhookKind = Literal["call.ended", "change.made"]
WEBHOOK_KINDS: tuple[WebhookKind, ...] = ("call.ended", "change.made")
"""The events a webhook subscription can ask for."""


@dataclass(frozen=True, slots=True)
class WebhookRow:
    """A webhook subscription and how far its delivery has come."""

    id: int
    url: str
    events: tuple[WebhookKind, ...]
    reseller: str | None
    """The reseller whose customers' events it gets; None: the admin's, every event."""
    secret: str
    previous_secret: str | None
    """The secret a rotation replaced: it signs too (a second signature) until `previous_until`."""
    previous_until: datetime | None
    created_by: str
    created_at: datetime
    delivered_seq: int
    """The last event (seq) the receiver confirmed, or skipped as not its own."""
    delivered_at: datetime | None
    attempts: int
    """Failed attempts at the event it is on now (0: none failed)."""
    next_attempt_at: datetime | None
    failing_since: datetime | None
    last_error: str | None
    lease_owner: str | None
    lease_until: datetime | None

    def secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets a request sent at `now` is signed with: the current one, and the replaced one
        while it is still valid."""
        if self.previous_secret and self.previous_until is not None and now < self.previous_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event to deliver: its seq (the event's id), kind, account and that account's reseller
    when it happened, its time and its data (JSON text)."""

    seq: int
    kind: WebhookKind
    account: str | None
    reseller: str | None
    created_at: datetime
    payload: str


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a subscription has still to deliver: how many events (at least that many unless `exact`),
    the oldest one's time (None: none)."""

    events: int
    oldest: datetime | None
    exact: bool = True


@dataclass(frozen=True, slots=True)
class EventSource:
    """A new event as the sequencer reads it: its kind and the row it is about."""

    kind: WebhookKind
    row: CallRecord | ChangeRow
    call_id: int | None
    """The call log's id of a call (None for a change, whose row carries its id)."""
