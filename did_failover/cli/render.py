"""How the CLI shows things: aligned tables, JSON, times (the JSON shapes themselves: admin/views.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from did_failover.admin.views import TransferView, active_word, on_off


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns separated by two spaces."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines)


def print_json(value: Any) -> None:
    """Print a value as indented JSON."""
    print(json.dumps(value, indent=2))


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
        ("timeout", f"{v.transfer_timeout} s"),
        ("caller id", v.caller_id),
        ("updated by", v.updated_by or "-"),
        ("updated at", v.updated_at.isoformat() if v.updated_at else "-"),
    ]


def clock(moment: datetime | None) -> str:
    """A time as the tables show it (UTC), `-` when unset."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"
