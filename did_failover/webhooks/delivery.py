"""The delivery every `serve` and `web` process runs (unless DID_FAILOVER_WEBHOOK_DELIVERY is off).

Once a second it numbers the new events (one sequencer at a time across every process, in commit
order), takes hold of the subscriptions that have events due and are free, and delivers each in its own
task: one event per request, in seq order, the cursor moved only on a 2xx. A failure pauses that
subscription (5 s, 30 s, 2 min, 5 min, 15 min, 30 min, then hourly) and lets go of it; after 24 hours of
failures it is shown as failing, and still tried hourly: nothing is dropped while it exists. A process
killed mid-delivery loses its hold when its lease runs out, and another (or its restart) sends again
what was not confirmed: delivery is at least once, normally once.

Nothing here runs in the call path: the requests wait on sockets in tasks of their own, and a slow or
dead receiver only holds its own subscription.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import random
import socket
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from did_failover.admin._history import ACCOUNT_FIELDS, shown_account
from did_failover.errors import StorageUnavailable
from did_failover.logs import get_logger
from did_failover.settings import Settings
from did_failover.storage.base import Repository
from did_failover.storage.webhook_records import WebhookEvent, WebhookRow
from did_failover.webhooks import events, signing
from did_failover.webhooks.post import Poster, post
from fastagi.server import IPNetwork

log = get_logger("did_failover.webhooks")

POLL = 1.0
"""Seconds between two looks for new events and due subscriptions."""
RETRY_PAUSES = (5, 30, 120, 300, 900, 1800, 3600)
"""Seconds before the next attempt after the 1st, 2nd ... failure in a row (the last one repeats)."""
FAILING_AFTER = timedelta(hours=24)
"""A subscription that has failed for this long is shown as failing."""
BATCH = 100
"""Events read per query of one subscription."""
CONFIRM_EVERY = 20
"""Events confirmed by their receiver before the cursor is written (see WebhookDelivery._deliver)."""
CONFIRM_AFTER = 1.0
"""Seconds after which the cursor is written whatever the count."""


def retry_pause(attempts: int) -> float:
    """Seconds to wait after `attempts` failures in a row, with a tenth either way at random so that
    subscriptions that failed together do not all come back in step."""
    pause = RETRY_PAUSES[min(max(attempts, 1), len(RETRY_PAUSES)) - 1]
    return pause * random.uniform(0.9, 1.1)


def is_failing(hook: WebhookRow, now: datetime) -> bool:
    """True once the subscription's deliveries have failed for FAILING_AFTER."""
    return hook.failing_since is not None and now - hook.failing_since >= FAILING_AFTER


def request(hook: WebhookRow, message_id: str, body: bytes) -> dict[str, str]:
    """The signed headers of one request to `hook` sent now (two signatures just after a rotation)."""
    now = time.time()
    keys = hook.secrets(datetime.fromtimestamp(now, UTC))
    return signing.headers(keys, message_id, int(now), body)


class WebhookDelivery:
    """Numbers new events and delivers them to the subscriptions this process holds."""

    @classmethod
    def from_settings(cls, repo: Repository, settings: Settings) -> WebhookDelivery | None:
        """The delivery of a `serve` or `web` process, or None when DID_FAILOVER_WEBHOOK_DELIVERY is off."""
        return (
            cls(repo, settings.webhook_timeout, settings.webhook_allow) if settings.webhook_delivery else None
        )

    def __init__(self, repo: Repository, timeout: float, allow: Sequence[IPNetwork]) -> None:
        self.repo = repo
        self.timeout = timeout
        self.allow = tuple(allow)
        self.lease = timedelta(seconds=2 * timeout + 5)
        """How long a hold lasts unless renewed: two requests' time and 5 s more (each delivery renews it)."""
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{random.randrange(16**6):06x}"
        self.delivering: dict[int, asyncio.Task[None]] = {}
        self.requests: collections.Counter[str] = collections.Counter()
        """Requests sent by this process, by result: delivered (2xx) or failed."""
        self.numbered = 0
        """Events this process numbered (as the sequencer)."""
        self._task: asyncio.Task[None] | None = None
        self._down = False

    def collect(self) -> Iterator[Metric]:
        """This process's webhook metrics (`serve`'s /metrics)."""
        requests = CounterMetricFamily(
            "did_failover_webhook_requests",
            "Webhook requests this process sent, by result: delivered (2xx) or failed.",
            labels=["result"],
        )
        for result in ("delivered", "failed"):
            requests.add_metric([result], self.requests[result])
        yield requests
        yield CounterMetricFamily(
            "did_failover_webhook_events_numbered",
            "Webhook events this process numbered (took into the delivery order).",
            value=self.numbered,
        )

    def start(self) -> None:
        """Start the loop in a task of its own."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook-delivery")

    async def close(self) -> None:
        """Stop delivering and let go of every subscription held (another process takes them at once)."""
        tasks = [t for t in (self._task, *self.delivering.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        with contextlib.suppress(StorageUnavailable):
            await self.repo.release_webhooks(self.owner)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
                if self._down:
                    log.info("webhook delivery resumed: the database answers")
                    self._down = False
            except StorageUnavailable as exc:
                if not self._down:
                    log.warning("webhook delivery waits for the database", error=str(exc))
                    self._down = True
            await asyncio.sleep(POLL)

    async def tick(self) -> None:
        """Number the new events, then start delivering to each subscription newly held (an idle
        process only reads: one query)."""
        now = datetime.now(UTC)
        unnumbered, due = await self.repo.webhook_work(self.owner, now)
        numbered = await self.repo.sequence_webhook_events(events.render) if unnumbered else 0
        if numbered:
            self.numbered += numbered
            await self.repo.prune_webhook_events()
            due = True
        if not due:
            return
        now = datetime.now(UTC)
        for hook in await self.repo.claim_webhooks(self.owner, now, now + self.lease):
            if hook.id not in self.delivering:
                task = asyncio.get_running_loop().create_task(self._deliver(hook))
                self.delivering[hook.id] = task

    async def _deliver(self, hook: WebhookRow) -> None:
        """Send `hook` its events in order until none is left, one fails, or the hold is lost. The
        cursor is written every CONFIRM_EVERY events or CONFIRM_AFTER seconds (and before a failure
        is recorded): a process killed in between sends those few again."""
        confirmed = hook.delivered_seq
        """The last event the receiver took; written to the database at most that late."""
        written = time.monotonic()
        poster = Poster(hook.url, self.timeout, self.allow)
        try:
            while True:
                after = dataclasses.replace(hook, delivered_seq=confirmed)
                batch, last = await self.repo.webhook_events(after, BATCH)
                for event in batch:
                    error = await self.send(hook, event, poster)
                    self.requests["failed" if error is not None else "delivered"] += 1
                    if error is not None:
                        if confirmed > hook.delivered_seq and not await self._confirm(hook, confirmed):
                            return
                        await self._failed(hook, event, error, datetime.now(UTC))
                        return
                    confirmed = event.seq
                    if hook.attempts:
                        log.info("webhook delivers again", webhook=hook.id, seq=event.seq)
                        hook = dataclasses.replace(hook, attempts=0)
                    if (
                        confirmed - hook.delivered_seq >= CONFIRM_EVERY
                        or time.monotonic() - written >= CONFIRM_AFTER
                    ):
                        if not await self._confirm(hook, confirmed):
                            return  # removed, or held by another process now
                        hook = dataclasses.replace(hook, delivered_seq=confirmed)
                        written = time.monotonic()
                if len(batch) < BATCH:
                    # the events after the last one sent, up to `last`, are not this subscription's
                    if max(confirmed, last) > hook.delivered_seq:
                        await self._confirm(hook, max(confirmed, last))
                    return
                # more to come: the next batch signs with the secrets as they are now (a rotation)
                fresh = await self.repo.get_webhook(hook.id)
                if fresh is None:
                    return  # removed meanwhile
                hook = dataclasses.replace(
                    hook,
                    secret=fresh.secret,
                    previous_secret=fresh.previous_secret,
                    previous_until=fresh.previous_until,
                )
        except StorageUnavailable as exc:
            log.warning("webhook delivery stopped: database unreachable", webhook=hook.id, error=str(exc))
        finally:
            poster.close()
            self.delivering.pop(hook.id, None)

    async def _confirm(self, hook: WebhookRow, seq: int) -> bool:
        """Move `hook`'s cursor to `seq` and renew the hold; False when the hold is lost."""
        now = datetime.now(UTC)
        return await self.repo.webhook_delivered(hook.id, self.owner, seq, now, now + self.lease)

    async def _failed(self, hook: WebhookRow, event: WebhookEvent, error: str, now: datetime) -> None:
        attempts = hook.attempts + 1
        pause = retry_pause(attempts)
        await self.repo.webhook_failed(hook.id, self.owner, error, now, now + timedelta(seconds=pause))
        log.warning(
            "webhook delivery failed",
            webhook=hook.id,
            seq=event.seq,
            error=error,
            attempts=attempts,
            retry_in=round(pause),
            failing=is_failing(hook, now),
        )

    async def send(self, hook: WebhookRow, event: WebhookEvent, poster: Poster) -> str | None:
        """POST one event to `hook` through `poster`; None when delivered, else why not."""
        data = json.loads(event.payload)
        if hook.reseller is not None and event.kind == "change.made":
            data = await self._hide_outside(hook.reseller, data)
        body = events.body(event.kind, event.created_at, data)
        return await poster.post(request(hook, str(event.seq), body), body)

    async def _hide_outside(self, reseller: str, data: dict[str, Any]) -> dict[str, Any]:
        """A change's data as `reseller` may see it, as on its change log: an account number outside
        its customers (a DID moved in from another tenant) shows as OUTSIDE."""
        if data.get("field") not in ACCOUNT_FIELDS:
            return data
        visible: set[str | None] = {reseller, *(a.number for a in await self.repo.list_accounts(reseller))}
        return {
            **data,
            "old": shown_account(data.get("old"), visible),
            "new": shown_account(data.get("new"), visible),
        }


async def ping(hook: WebhookRow, timeout: float, allow: Sequence[IPNetwork]) -> str | None:
    """Send `webhook test`'s signed ping to `hook` now; None when a 2xx answered, else why not."""
    now = datetime.now(UTC)
    body = events.ping_body(hook.id, now)
    message_id = f"ping_{random.randrange(16**12):012x}"
    return await post(hook.url, request(hook, message_id, body), body, timeout, allow)
