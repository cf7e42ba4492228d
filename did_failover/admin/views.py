"""What the service shows: the rows of the "DIDs Call Transfer" table, and every row as the JSON
values the API answers and the CLI's --json prints (one shape for both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from did_failover.storage.records import (
    AccountRow,
    CallRecord,
    ChangeRow,
    DIDRow,
    TransferRow,
    UserRow,
    attempts_text,
    default_transfer,
)


@dataclass(frozen=True, slots=True)
class TransferView:
    """One line of the "DIDs Call Transfer" table: a DID, its primary and its transfer settings."""

    did: str
    account: str
    primary: str
    did_active: bool
    account_transfer: bool
    enabled: bool
    always: str | None
    busy: str | None
    no_answer: str | None
    unavailable: str | None
    transfer_timeout: int
    caller_id: str
    updated_by: str | None
    updated_at: datetime | None
    after_hours: str | None = None
    schedule: str | None = None

    @property
    def did_type(self) -> str:
        """The primary destination's kind: pstn, sip or endpoint."""
        return self.primary.partition(":")[0]

    @property
    def status(self) -> str:
        """`on`, `off`, or `off (account)` when the DID's transfer is on but its account's is off."""
        if not self.enabled:
            return "off"
        return "on" if self.account_transfer else "off (account)"

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values."""
        return {
            "did": self.did,
            "account": self.account,
            "did_type": self.did_type,
            "primary": self.primary,
            "busy": self.busy,
            "no_answer": self.no_answer,
            "unavailable": self.unavailable,
            "always": self.always,
            "after_hours": self.after_hours,
            "schedule": self.schedule,
            "transfer": "on" if self.enabled else "off",
            "account_transfer": "on" if self.account_transfer else "off",
            "status": self.status,
            "timeout": self.transfer_timeout,
            "caller_id": self.caller_id,
            "did_active": self.did_active,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def transfer_view(did: DIDRow, account: AccountRow, transfer: TransferRow | None) -> TransferView:
    """Join a DID, its account and its transfer row (or the defaults when it has none)."""
    t = transfer or default_transfer(did.number)
    return TransferView(
        did=did.number,
        account=did.account,
        primary=did.primary,
        did_active=did.active,
        account_transfer=account.transfer_enabled,
        enabled=t.enabled,
        always=t.always,
        busy=t.busy,
        no_answer=t.no_answer,
        unavailable=t.unavailable,
        transfer_timeout=t.transfer_timeout,
        caller_id=t.caller_id,
        updated_by=transfer.updated_by if transfer else None,
        updated_at=transfer.updated_at if transfer else None,
        after_hours=t.after_hours,
        schedule=t.schedule,
    )


def on_off(flag: bool) -> str:
    """`on` or `off`."""
    return "on" if flag else "off"


def active_word(flag: bool) -> str:
    """`active` or `inactive`."""
    return "active" if flag else "inactive"


def account_dict(a: AccountRow) -> dict[str, Any]:
    """An account as JSON-ready values."""
    return {
        "number": a.number,
        "name": a.name,
        "type": a.type,
        "reseller": a.reseller,
        "status": active_word(a.active),
        "transfer": on_off(a.transfer_enabled),
        "created_at": a.created_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
    }


def did_dict(d: DIDRow) -> dict[str, Any]:
    """A DID as JSON-ready values."""
    return {
        "did": d.number,
        "account": d.account,
        "did_type": d.primary.partition(":")[0],
        "primary": d.primary,
        "ring_timeout": d.ring_timeout,
        "max_channels": d.max_channels,
        "status": active_word(d.active),
        "created_at": d.created_at.isoformat(),
        "updated_at": d.updated_at.isoformat(),
    }


def call_dict(call: CallRecord) -> dict[str, Any]:
    """A call-history row as JSON-ready values; `legs` is every attempt as the call log's column has
    it (`PRIMARY endpoint:alice BUSY|BUSY#1 pstn:+15551230001 ANSWER`), null for none."""
    values = call._asdict()
    for key, value in values.items():
        if isinstance(value, datetime):
            values[key] = value.isoformat()
    values["legs"] = attempts_text(values.pop("attempts"))
    return values


def change_dict(change: ChangeRow) -> dict[str, Any]:
    """A change-log row as JSON-ready values (`old`/`new` null for an add/remove)."""
    return {
        "id": change.id,
        "changed_at": change.changed_at.isoformat(),
        "actor": change.actor,
        "action": change.action,
        "subject": change.subject,
        "account": change.account,
        "did": change.did,
        "username": change.username,
        "field": change.field,
        "old": change.old,
        "new": change.new,
    }


def user_dict(user: UserRow) -> dict[str, Any]:
    """A user as JSON-ready values (never the password hash)."""
    return {
        "username": user.username,
        "role": user.role,
        "account": user.account,
        "status": active_word(user.active),
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }
