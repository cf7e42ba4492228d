"""Typed call destinations (pstn:, sip:, endpoint:, voicemail:) and the one validator of them."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal, get_args

from did_failover.errors import InvalidDestination
from did_failover.numbers import PHONE_NUMBER

DestinationKind = Literal["pstn", "sip", "endpoint", "voicemail"]
KINDS: tuple[DestinationKind, ...] = get_args(DestinationKind)

MAX_LENGTH = 255
"""Longest destination text accepted, `kind:` prefix included (the database column width)."""

_ENDPOINT = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)
# MAILBOX[@CONTEXT]: VoiceMail() splits its argument on , & @ and the dialplan on | ( ) $ { }.
_VOICEMAIL = re.compile(r"[A-Za-z0-9_-]{1,40}(?:@[A-Za-z0-9_-]{1,40})?", re.ASCII)
VOICEMAIL_CONTEXT = "default"
"""The voicemail.conf context of a `voicemail:MAILBOX` given without one (VoiceMail()'s own default)."""
# RFC 3261 `user`: unreserved / escaped / user-unreserved, minus everything a dial string or the
# dialplan gives a meaning to: ' ( ) from `mark`, & $ , ; ? / from `user-unreserved`.
_SIP_USER = re.compile(r"(?:[A-Za-z0-9\-_.!~*+=]|%[0-9A-Fa-f]{2})+", re.ASCII)
_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", re.ASCII)
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)

_USER_RULE = (
    "user may use only RFC 3261 unreserved/escaped characters "
    "(letters, digits, - _ . ! ~ * + = and %HH; no spaces, , & | ( ) \" ' \\ ;)"
)
_HOST_RULE = "host must be a DNS name, an IPv4 address or an [IPv6] literal"
_SYNTAX = "use pstn:NUMBER, sip:USER@HOST[:PORT], endpoint:NAME or voicemail:MAILBOX[@CONTEXT]"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a call goes: a PSTN number, a SIP URI (USER@HOST[:PORT]), a local PJSIP endpoint, or a
    voicemail box (MAILBOX[@CONTEXT]: a final step, run with VoiceMail() rather than dialled)."""

    kind: DestinationKind
    value: str

    def __str__(self) -> str:
        """The canonical `kind:value` text, as stored and as typed."""
        return f"{self.kind}:{self.value}"


def _shown(text: str) -> str:
    """Quote a user's text for a one-line message, cut when very long."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _valid_host(host: str) -> bool:
    """True when `host` is a DNS name, a dotted-quad IPv4 address or a bracketed IPv6 literal."""
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        # Zone ids (fe80::1%eth0) are not valid in a SIP URI.
        return "%" not in host
    if _IPV4.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    if len(host) > 253:
        return False
    labels = host.split(".")
    # RFC 3261 toplabel starts with a letter, which is what keeps 1.2.3.999 from being a name.
    return all(_DNS_LABEL.fullmatch(label) for label in labels) and labels[-1][0].isalpha()


def _parse_sip(text: str, rest: str, field: str, item: int | None) -> Destination:
    """Validate the part of a sip: destination after the prefix."""
    bad = f"{_shown(text)} is not a valid SIP URI"
    user, at, hostport = rest.rpartition("@")
    if not at or not user or not hostport:
        raise InvalidDestination(f"{bad}: expected sip:USER@HOST[:PORT]", field, item)
    if not _SIP_USER.fullmatch(user):
        raise InvalidDestination(f"{bad}: {_USER_RULE}", field, item)
    host, port = hostport, ""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close != -1:
            host, tail = hostport[: close + 1], hostport[close + 1 :]
            if tail and not tail.startswith(":"):
                raise InvalidDestination(f"{bad}: {_HOST_RULE}", field, item)
            port = tail[1:] if tail else ""
            if tail == ":":
                raise InvalidDestination(f"{bad}: port must be a number 1..65535", field, item)
    elif ":" in hostport:
        host, _, port = hostport.partition(":")
        if not port:
            raise InvalidDestination(f"{bad}: port must be a number 1..65535", field, item)
    if not _valid_host(host):
        raise InvalidDestination(f"{bad}: {_HOST_RULE}", field, item)
    if port and not (_PORT.fullmatch(port) and 1 <= int(port) <= 65535):
        raise InvalidDestination(f"{bad}: port must be a number 1..65535", field, item)
    return Destination("sip", rest)


_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "pstn": (PHONE_NUMBER, "PSTN number: 3 to 20 digits with an optional leading +"),
    "endpoint": (_ENDPOINT, "endpoint name: 1 to 64 letters, digits, _ . or -"),
    "voicemail": (_VOICEMAIL, "voicemail box: MAILBOX[@CONTEXT], each 1 to 40 letters, digits, _ or -"),
}
"""The kinds whose value is one pattern: the pattern and, for the error, what it is."""


def parse_destination(text: str, field: str, item: int | None = None) -> Destination:
    """Parse a pstn:, sip:, endpoint: or voicemail: destination; InvalidDestination names `field`
    (and `item`, the step of a forward list)."""
    if len(text) > MAX_LENGTH:
        raise InvalidDestination(f"destination is longer than {MAX_LENGTH} characters", field, item)
    kind, colon, rest = text.partition(":")
    if not colon or kind not in KINDS:
        raise InvalidDestination(f"{_shown(text)} is not a destination: {_SYNTAX}", field, item)
    if kind in _PATTERNS:
        pattern, rule = _PATTERNS[kind]
        if not pattern.fullmatch(rest):
            raise InvalidDestination(f"{_shown(text)} is not a valid {rule}", field, item)
        return Destination(kind, rest)
    return _parse_sip(text, rest, field, item)


def check_destination(dest: Destination, field: str = "destination") -> Destination:
    """Validate again a Destination built elsewhere (e.g. read from a hand-edited database)."""
    checked = parse_destination(str(dest), field)
    if checked != dest:
        raise InvalidDestination(f"{_shown(str(dest))} is not a valid destination", field)
    return checked
