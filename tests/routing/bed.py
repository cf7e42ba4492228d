"""The routing test bed's server: the real server over a fresh MariaDB database, placing calls
through the real Asterisk, for the routing tests of this folder."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from did_failover.storage import Repository
from fastagi.server import Server
from tests.support.db import add_did
from tests.testbed.asterisk import Ami, Call, CallOutcome

AGI_LISTEN = "127.0.0.1:14573"
ACCOUNT = "7001"
callers = itertools.count(15550100000)
"""Caller numbers, one per call: the far end's reports are told apart by caller."""


@dataclass
class Bed:
    """The server under test, its database, and the AMI client that places calls."""

    repo: Repository
    ami: Ami
    server: Server

    async def did(self, did: str, primary: str, **settings: Any) -> None:
        """Create a DID of ACCOUNT with its transfer settings (tests/support/db.py `add_did`)."""
        await add_did(self.repo, did, primary, account=ACCOUNT, **settings)

    async def place(self, did: str, caller: str | None = None) -> tuple[Call, CallOutcome]:
        """Place an inbound call to `did` and wait until the dialplan side has finished."""
        call = await self.ami.originate(did, caller or str(next(callers)))
        return call, await self.ami.wait_outcome(call, timeout=30)

    def reached(self, caller: str) -> list[dict[str, str]]:
        """The destinations that received the call from `caller`, in order."""
        return [
            dict(e)
            for e in self.ami.matching("UserEvent", UserEvent="DestReached")
            if e.get("CallerID") == caller
        ]


Start = Callable[..., Awaitable[Bed]]
