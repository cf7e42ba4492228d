"""The DID and account number rules, written once: what is valid, how a DID is stored, the error.

A leaf module: storage, routing, admin and the shells all check numbers the same way through it.
"""

from __future__ import annotations

import re

from did_failover.errors import InputError

PHONE_NUMBER = re.compile(r"\+?[0-9]{3,20}", re.ASCII)
"""A DID or a PSTN number as a user types it: 3 to 20 digits with an optional leading +."""
STORED_DID = re.compile(r"[0-9]{3,20}", re.ASCII)
"""A DID as stored (no +); checked again on the way into GROUP() and REDIRECTING()."""
ACCOUNT_NUMBER = re.compile(r"[A-Za-z0-9_.-]{1,32}", re.ASCII)
"""An account number (the database column holds 32 characters)."""


def whole_number(text: str, digits: int) -> int | None:
    """`text` as a number when it is 1 to `digits` ASCII digits, None otherwise (`isdigit` alone
    takes `²`, which `int` refuses, and a thousand digits, which nothing here means)."""
    return int(text) if 0 < len(text) <= digits and text.isascii() and text.isdigit() else None


def strip_plus(did: str) -> str:
    """The DID as stored and logged: without a leading +."""
    return did.removeprefix("+")


def did_number(text: str, field: str = "did") -> str:
    """A DID as stored (digits, no +); InputError unless 3..20 digits with an optional leading +."""
    if not PHONE_NUMBER.fullmatch(text):
        raise InputError(
            f"{text[:40]!r} is not a valid DID: 3 to 20 digits with an optional leading +", field
        )
    return strip_plus(text)


def account_number(text: str, field: str = "account") -> str:
    """An account number; InputError unless 1..32 letters, digits, _ . or -."""
    if not ACCOUNT_NUMBER.fullmatch(text):
        raise InputError(
            f"{text[:40]!r} is not a valid account number: 1 to 32 letters, digits, _ . or -", field
        )
    return text
