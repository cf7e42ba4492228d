"""docs/settings.md documents every setting of the settings model exactly once, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from did_failover.settings import Settings

DOC = Path(__file__).parent.parent / "docs" / "settings.md"


def test_every_setting_has_exactly_one_row_and_no_row_is_stale() -> None:
    """A table row per setting, named by its environment variable, with the model's default."""
    rows = re.findall(r"^\| `(DID_FAILOVER_[A-Z_]+)` \| ([^|]*) \|", DOC.read_text(), re.MULTILINE)
    documented = [name for name, _ in rows]
    expected = sorted(f"DID_FAILOVER_{field.upper()}" for field in Settings.model_fields)
    assert sorted(documented) == expected, "docs/settings.md and fastagi/settings.py disagree"
    defaults = dict(rows)
    for field, info in Settings.model_fields.items():
        default = info.default
        shown = defaults[f"DID_FAILOVER_{field.upper()}"].strip()
        if isinstance(default, str) and default:
            assert shown == f"`{default}`", f"{field}: documented default {shown} is not {default!r}"
        elif isinstance(default, str):
            assert shown == "(empty)", f"{field}: an empty default is written (empty)"
        elif isinstance(default, int | float) and not isinstance(default, bool):
            assert shown == f"`{default:g}`", f"{field}: documented default {shown} is not {default}"
