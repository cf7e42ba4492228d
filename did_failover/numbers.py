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


def is_digits(text: str) -> bool:
    """True when `text` is one or more ASCII digits. `str.isdigit` alone also takes `²` and `①`,
    which `int` refuses, so every digit check goes through here (or `whole_number`)."""
    return text.isascii() and text.isdigit()


def whole_number(text: str, digits: int) -> int | None:
    """`text` as a number when it is 1 to `digits` ASCII digits, None otherwise (`isdigit` alone
    takes `²`, which `int` refuses, and a thousand digits, which nothing here means)."""
    return int(text) if len(text) <= digits and is_digits(text) else None


def strip_plus(did: str) -> str:
    """The DID as stored and logged: without a leading +."""
    return did.removeprefix("+")


_TYPED_NUMBER = re.compile(r"\+?[0-9][0-9 .()-]{0,38}[0-9]", re.ASCII)
"""A phone number as people write it: `06 12 34 56 78`, `+33 (0)6.12.34.56.78`, `555-123-4567`."""
_TYPED_SEPARATORS = re.compile(r"[ .()-]", re.ASCII)


def typed_number(text: str) -> str:
    """`text` without the blanks, dots, dashes and brackets of a phone number as people write it
    (`06 12 34 56 78` -> `0612345678`); anything else unchanged, for its own rule to refuse."""
    text = text.strip()
    return _TYPED_SEPARATORS.sub("", text) if _TYPED_NUMBER.fullmatch(text) else text


def typed_pstn(text: str) -> str:
    """A destination, or a forward list, with each `pstn:` number as `typed_number` writes it (a
    `/SECONDS` ring timeout kept): what a shell hands on before the destination rules check it."""
    items = []
    for item in text.split(","):
        kind, colon, rest = item.strip().partition(":")
        if colon and kind == "pstn":
            number, slash, seconds = rest.partition("/")
            item = f"pstn:{typed_number(number)}{slash}{seconds}"
        items.append(item)
    return ",".join(items)


def did_number(text: str, field: str = "did") -> str:
    """A DID as stored (digits, no +; written with blanks, dots or dashes as `typed_number` takes
    it); InputError unless 3..20 digits with an optional leading +."""
    text = typed_number(text)
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
