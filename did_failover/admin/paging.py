"""Pages of the DIDs grid for every shell: the cursors that name a page's edge, and one page's view."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from did_failover.admin.views import TransferView
from did_failover.errors import InputError
from did_failover.storage.records import PageKey

MAX_OFFSET = 10000
"""The deepest `offset` a client may ask for; further pages go by cursor, which reads no row it skips
(the same bound and advice as Elasticsearch's `max_result_window` and `search_after`)."""
MAX_CURSOR = 2400
"""The longest cursor taken: this server's hold a sort key of at most 255 characters (JSON-escaped, 6
bytes each at worst: a primary edited by hand may hold anything) and a number, in base64."""


@dataclass(frozen=True, slots=True)
class TransferPage:
    """One page of the "DIDs Call Transfer" table as a shell shows it."""

    views: list[TransferView]
    total: int
    """How many DIDs match; at least this many when `total_exact` is False (a broad search)."""
    total_exact: bool
    previous: str | None
    """The cursor of the page before this one (`before`), None on the first page."""
    next: str | None
    """The cursor of the page after this one (`after`), None on the last page."""


def encode_cursor(order: str, key: PageKey) -> str:
    """An opaque, URL-safe cursor for the row at `key` in `order`."""
    raw = json.dumps([order, key.key, key.number], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, order: str, field: str) -> PageKey:
    """The row a cursor names; InputError for `field` when it is not one this server made for `order`."""
    refusal = InputError("not a cursor this server gave (take next or previous from a page)", field)
    if len(text) > MAX_CURSOR:
        raise refusal
    try:
        made_for, key, number = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, TypeError):
        raise refusal from None
    if not all(isinstance(part, str) for part in (made_for, key, number)):
        raise refusal
    if made_for != order:
        raise InputError(f"this cursor pages the order {made_for[:20]!r}, not {order!r}", field)
    return PageKey(key, number)
