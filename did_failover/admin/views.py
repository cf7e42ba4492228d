"""What the service shows: the rows of the "DIDs Call Transfer" table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from did_failover.storage.base import (
    AccountRow,
    DIDRow,
    TransferRow,
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
    timeout: int
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
            "timeout": self.timeout,
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
        enabled=t.enabled if transfer is not None else False,
        always=t.always,
        busy=t.busy,
        no_answer=t.no_answer,
        unavailable=t.unavailable,
        timeout=t.timeout,
        caller_id=t.caller_id,
        updated_by=transfer.updated_by if transfer else None,
        updated_at=transfer.updated_at if transfer else None,
        after_hours=t.after_hours,
        schedule=t.schedule,
    )
