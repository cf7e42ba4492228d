"""How the CLI shows things: aligned tables, JSON, and the words for on/off and times."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from did_failover.admin.views import TransferView
from did_failover.storage import AccountRow, CallRecord, ChangeRow, DIDRow, UserRow


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns separated by two spaces."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines)


def print_json(value: Any) -> None:
    """Print a value as indented JSON."""
    print(json.dumps(value, indent=2))


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


def transfer_lines(v: TransferView) -> list[tuple[str, str]]:
    """The label/value lines of `transfer show`."""
    return [
        ("DID", v.did),
        ("account", v.account),
        ("DID type", v.did_type),
        ("primary", v.primary),
        ("DID status", active_word(v.did_active)),
        ("transfer", on_off(v.enabled)),
        ("account transfer", on_off(v.account_transfer)),
        ("status", v.status),
        ("busy", v.busy or "-"),
        ("no answer", v.no_answer or "-"),
        ("unavailable", v.unavailable or "-"),
        ("always", v.always or "-"),
        *([("after hours", v.after_hours)] if v.after_hours else []),
        *([("schedule", v.schedule)] if v.schedule else []),
        ("timeout", f"{v.timeout} s"),
        ("caller id", v.caller_id),
        ("updated by", v.updated_by or "-"),
        ("updated at", v.updated_at.isoformat() if v.updated_at else "-"),
    ]


def clock(moment: datetime | None) -> str:
    """A time as the tables show it (UTC), `-` when unset."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def call_dict(call: CallRecord) -> dict[str, Any]:
    """A call-history row as JSON-ready values."""
    values = call._asdict()
    for key, value in values.items():
        if isinstance(value, datetime):
            values[key] = value.isoformat()
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
