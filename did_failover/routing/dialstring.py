"""Dial strings from destinations and the operator's templates, validated once more on the way out."""

from __future__ import annotations

import re
from functools import lru_cache

from did_failover.errors import InvalidDestination
from did_failover.numbers import is_digits
from did_failover.routing.destinations import VOICEMAIL_CONTEXT, parse_destination
from did_failover.settings import Settings

_SAFE = re.compile(r"[A-Za-z0-9_.:@;=~*+!%/\-\[\]]+", re.ASCII)
"""Characters a finished dial string may hold: none that Dial's or the dialplan's parsers give meaning to."""


@lru_cache(maxsize=4096)
def _dial_target(pstn: str, sip: str, endpoint: str, destination: str, field: str) -> str:
    """The checked Dial target; remembered, since the same check of the same text with the same
    templates gives the same answer. A destination that fails raises on every call."""
    dest = parse_destination(destination, field)
    if dest.kind == "voicemail":
        raise InvalidDestination(f"{destination!r} is a voicemail box: it is not dialled", field)
    if dest.kind == "pstn":
        target = pstn.format(number=dest.value)
    elif dest.kind == "sip":
        target = sip.format(uri=f"sip:{dest.value}")
    else:
        target = endpoint.format(endpoint=dest.value)
    if not _SAFE.fullmatch(target):
        raise InvalidDestination(f"dial string {target!r} holds characters Dial would interpret", field)
    return target


@lru_cache(maxsize=1024)
def _voicemail_arguments(destination: str, busy_greeting: bool, field: str) -> str:
    """VoiceMail()'s MAILBOX@CONTEXT,OPTIONS, checked again; remembered like the dial targets."""
    dest = parse_destination(destination, field)
    if dest.kind != "voicemail":
        raise InvalidDestination(f"{destination!r} is not a voicemail box", field)
    mailbox, _, context = dest.value.partition("@")
    box = f"{mailbox}@{context or VOICEMAIL_CONTEXT}"
    if not _SAFE.fullmatch(box):
        raise InvalidDestination(f"voicemail {box!r} holds characters VoiceMail would interpret", field)
    return f"{box},{'b' if busy_greeting else 'u'}"


class DialTemplates:
    """The PSTN, SIP and endpoint dial templates and the extra Dial options, from the settings."""

    __slots__ = ("endpoint", "options", "pstn", "sip")

    def __init__(self, settings: Settings) -> None:
        self.pstn = settings.pstn_dial
        self.sip = settings.sip_dial
        self.endpoint = settings.endpoint_dial
        self.options = settings.dial_options

    def dial_string(self, destination: str, field: str) -> str:
        """The Dial target for a stored destination, which is parsed and checked again here."""
        return _dial_target(self.pstn, self.sip, self.endpoint, destination, field)

    @staticmethod
    def voicemail_arguments(destination: str, busy_greeting: bool, field: str) -> str:
        """VoiceMail()'s arguments for a stored `voicemail:` destination, parsed and checked again:
        the mailbox, its context (`default` unless given), and the busy (b) or unavailable (u) greeting."""
        return _voicemail_arguments(destination, busy_greeting, field)

    def dial_options(self, timeout: int, caller_id: str | None, extra: str = "") -> str:
        """`,TIMEOUT,OPTIONS` for Dial: the operator's options, f(DID) to present the DID, and
        `extra` (a confirmed step's U())."""
        options = self.options
        if caller_id is not None:
            if not is_digits(caller_id):
                raise InvalidDestination(f"caller ID {caller_id!r} is not a number")
            options += f"f({caller_id})"
        options += extra
        return f",{int(timeout)},{options}" if options else f",{int(timeout)}"
