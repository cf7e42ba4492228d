"""What a webhook request carries: the event's data (the call-history row, or the change-log row, as
the API shows them), wrapped as Standard Webhooks suggests: {"type", "timestamp", "data"}."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from did_failover.admin.views import call_dict, change_dict
from did_failover.storage.records import CallRecord
from did_failover.storage.webhook_records import EventSource


def render(source: EventSource) -> str:
    """The data of a new event as JSON text (stored with the event when it is numbered)."""
    if isinstance(source.row, CallRecord):
        data: dict[str, Any] = {"id": source.call_id, **call_dict(source.row)}
    else:
        data = change_dict(source.row)
    return json.dumps(data, separators=(",", ":"))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body(kind: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The request body of one event."""
    envelope = {"type": kind, "timestamp": _stamp(created_at), "data": data}
    return json.dumps(envelope, separators=(",", ":")).encode()


def ping_body(webhook_id: int, now: datetime) -> bytes:
    """The body of `webhook test`: a `ping` event that is not numbered and never retried."""
    return body("ping", now, {"webhook": webhook_id})
