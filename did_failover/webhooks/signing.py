"""Standard Webhooks signatures (https://www.standardwebhooks.com): a `whsec_` secret of 32 random
bytes, and `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")) in `webhook-signature`.
While a rotated-out secret is still valid, the header carries both signatures, separated by a space
(the spec's way to rotate): a receiver that knows either secret accepts the request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"


def new_secret() -> str:
    """A new signing secret, as the receiver passes it to its Standard Webhooks library."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header's value for one request."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(keys: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one request, signed with each secret of `keys`."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, message_id, timestamp, body) for key in keys),
    }
