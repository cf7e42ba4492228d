"""The AMI connection (panoramisk) that follows routed calls: login, reconnect with backoff, feed the tracker.

The AGI side never waits for this: events only update the CallTracker, and when AMI is down the call
history is written from what the AGI session knows.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from did_failover.calls.tracker import CallTracker
from did_failover.logs import get_logger
from did_failover.settings import AmiTarget

log = get_logger("did_failover.calls.ami")

EVENTS = ("DialBegin", "DialEnd", "Newstate", "BridgeEnter", "Hangup")
"""The events the call tracker uses; all in AMI's `call` class, the only class we log in for."""

BACKOFF_MAX = 30.0

_EOM = "\r\n\r\n"
_UNIQUEID = "\r\nUniqueid: "


class EventProtocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's AMI protocol with a short way for events: the ones the tracker reads, of the calls
    it follows, become plain dicts handed straight to it; every other event is dropped unparsed.

    A profile of `serve` under real calls found panoramisk's per-event parsing (a case-insensitive
    dict per event, a regex match per callback) at 44 % of the process. Responses (login, ping) and
    the Shutdown event still take panoramisk's own path.
    """

    def __init__(self, tracker: CallTracker) -> None:
        super().__init__()
        self.tracker = tracker

    def data_received(self, data: bytes) -> None:
        """Split what arrived into messages; events the tracker wants go to it, others go nowhere."""
        if self.version is None:  # the greeting and the login: panoramisk's
            super().data_received(data)
            return
        text = data.decode("utf-8", "replace")
        if self.queue:
            text = self.queue.popleft() + text
        blocks = text.split(_EOM)
        self.queue.append(blocks.pop())
        tracker = self.tracker
        for block in blocks:
            if block.startswith("\r\n"):
                block = block.lstrip("\r\n")
            if block.startswith("Event: "):
                end = block.find("\r\n")
                name = block[7:end] if end > 0 else block[7:]
                if name in _WANTED:
                    if tracker.follows(_uniqueid(block)):
                        tracker.on_event(parse_event(block))
                    continue
                if name != "Shutdown":
                    continue
            message = Message.from_line(block.strip())
            if message is not None:
                self.handle_message(message)


_WANTED = frozenset(EVENTS)


def _uniqueid(block: str) -> str:
    """The Uniqueid header of an event block, '' when it has none."""
    start = block.find(_UNIQUEID)
    if start < 0:
        return ""
    start += len(_UNIQUEID)
    end = block.find("\r\n", start)
    return block[start:] if end < 0 else block[start:end]


def parse_event(block: str) -> dict[str, str]:
    """An AMI event block (`Key: value` lines, no blank line) as a dict; a repeated key keeps its last."""
    event: dict[str, str] = {}
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            event[key] = value
        elif line.endswith(":"):
            event[line[:-1]] = ""
    return event


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with our reconnect policy (backoff, forever) instead of its fixed delay."""

    def __init__(self, listener: AmiListener, **config: Any) -> None:
        super().__init__(**config)
        self._listener = listener

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            error = "cancelled" if f.cancelled() else str(f.exception())
            self._listener.schedule_reconnect(error)
            return
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok: bool = super().login(future)
        if not ok:
            message = getattr(future.result(), "message", "") or "refused"
            log.error("AMI login failed", user=self._listener.target.username, error=str(message))
            self.close()  # connection_lost follows, and with it a retry after the backoff
        return ok

    def connection_lost(self, exc: Exception | None) -> None:
        pinger: asyncio.TimerHandle | None = self.__dict__.get("pinger")
        if pinger is not None:
            pinger.cancel()
            self.pinger = None
        self._connected = False
        self._listener.lost(exc)


class AmiListener:
    """Keeps one AMI connection up for as long as the server runs and feeds events to the tracker."""

    def __init__(self, target: AmiTarget, tracker: CallTracker) -> None:
        self.target = target
        self.tracker = tracker
        self.connected = False
        self.connects = 0
        self._backoff = 1.0
        self._closing = False
        self._retry: asyncio.TimerHandle | None = None
        self.manager = _Manager(
            self,
            host=target.host,
            port=target.port,
            username=target.username,
            secret=target.secret,
            events="call",
            ping_delay=10,
            ping_interval=10,
            on_login=self._logged_in,
            log=_QuietLogger(),
            protocol_factory=functools.partial(EventProtocol, tracker),
        )

    def start(self) -> None:
        """Connect in the background; never raises, retries forever."""
        self.manager.loop = asyncio.get_running_loop()
        self.manager.connect()

    def _logged_in(self, manager: Manager) -> None:
        if not manager.authenticated:
            return
        self.connected = True
        self.connects += 1
        self._backoff = 1.0
        self.tracker.set_ami_connected(True)
        log.info("AMI connected", host=self.target.host, port=self.target.port, user=self.target.username)

    def lost(self, exc: Exception | None) -> None:
        """The connection dropped: AGI carries on; history rows take their times from Dial meanwhile."""
        was = self.connected
        self.connected = False
        self.tracker.set_ami_connected(False)
        if was:
            log.warning("AMI connection lost", error=str(exc) if exc else "closed by Asterisk")
        self.schedule_reconnect(str(exc) if exc else "closed")

    def schedule_reconnect(self, error: str) -> None:
        """Try again after the current backoff (1 s doubling to 30 s)."""
        if self._closing:
            return
        delay = self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        if delay >= BACKOFF_MAX / 2 or self.connects == 0:
            log.warning("AMI not reachable, retrying", error=error, retry_in=delay)
        self._retry = asyncio.get_running_loop().call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        self._retry = None
        if not self._closing:
            self.manager.connect()

    def close(self) -> None:
        """Log off and stop reconnecting."""
        self._closing = True
        if self._retry is not None:
            self._retry.cancel()
        self.manager.close()
        self.connected = False
        self.tracker.set_ami_connected(False)


class _QuietLogger:
    """panoramisk logs through stdlib logging in its own words; our own log lines say what matters."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None
