"""Dial strings from destinations and the operator's templates, validated once more on the way out."""

from __future__ import annotations

import re
from functools import lru_cache

from did_failover.errors import InvalidDestination
from did_failover.routing.destinations import parse_destination
from did_failover.settings import Settings

_SAFE = re.compile(r"[A-Za-z0-9_.:@;=~*+!%/\-\[\]]+", re.ASCII)
"""Characters a finished dial string may hold: none that Dial's or the dialplan's parsers give meaning to."""


@lru_cache(maxsize=4096)
def _dial_target(pstn: str, sip: str, endpoint: str, destination: str, field: str) -> str:
    """The checked Dial target; remembered, since the same check of the same text with the same
    templates gives the same answer. A destination that fails raises on every call."""
    dest = parse_destination(destination, field)
    if dest.kind == "pstn":
        target = pstn.format(number=dest.value)
    elif dest.kind == "sip":
        target = sip.format(uri=f"sip:{dest.value}")
    else:
        target = endpoint.format(endpoint=dest.value)
    if not _SAFE.fullmatch(target):
        raise InvalidDestination(f"{field}: dial string {target!r} holds characters Dial would interpret")
    return target


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

    def dial_options(self, timeout: int, caller_id: str | None) -> str:
        """`,TIMEOUT,OPTIONS` for Dial: the operator's options plus f(DID) to present the DID."""
        options = self.options
        if caller_id is not None:
            if not caller_id.isdigit():
                raise InvalidDestination(f"caller ID {caller_id!r} is not a number")
            options += f"f({caller_id})"
        return f",{int(timeout)},{options}" if options else f",{int(timeout)}"
