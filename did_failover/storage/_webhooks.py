"""Webhook subscriptions and their events: the outbox the tr_webhook_* triggers fill, the sequencer that
numbers it in commit order, and the cursor and lease of each subscription (did_failover/webhooks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from did_failover.storage._base import Executor, Row, _dt
from did_failover.storage._history import _CALL_COLUMNS, HistoryQueries
from did_failover.storage.webhook_records import Backlog, EventSource, WebhookEvent, WebhookKind, WebhookRow

BACKLOG_SCAN = 10_000
"""Numbered events after a subscription's cursor that `webhook_backlog` counts in; past them the count
is a lower bound. A receiver down for a day at a high call rate leaves millions: counting them all
took 1.6 s per 2 million events on MariaDB for each webhook of a `webhook list`; this takes 9 ms."""

_WEBHOOK = """SELECT w.id, w.url, w.call_ended, w.change_made, r.number, w.secret, w.created_by,
 w.created_at, w.delivered_seq, w.delivered_at, w.attempts, w.next_attempt_at, w.failing_since,
 w.last_error, w.lease_owner, w.lease_until, w.previous_secret, w.previous_until
 FROM webhooks w LEFT JOIN accounts r ON r.id = w.reseller_id"""

_KIND_COLUMNS: dict[WebhookKind, str] = {"call.ended": "call_ended", "change.made": "change_made"}


def _maybe_dt(value: Any) -> datetime | None:
    return None if value is None else _dt(value)


def _webhook(row: Row) -> WebhookRow:
    events = tuple(kind for kind, flag in zip(_KIND_COLUMNS, (row[2], row[3]), strict=True) if flag)
    return WebhookRow(
        id=int(row[0]),
        url=row[1],
        events=events,
        reseller=row[4],
        secret=row[5],
        previous_secret=row[16],
        previous_until=_maybe_dt(row[17]),
        created_by=row[6],
        created_at=_dt(row[7]),
        delivered_seq=int(row[8]),
        delivered_at=_maybe_dt(row[9]),
        attempts=int(row[10]),
        next_attempt_at=_maybe_dt(row[11]),
        failing_since=_maybe_dt(row[12]),
        last_error=row[13],
        lease_owner=row[14],
        lease_until=_maybe_dt(row[15]),
    )


def _events_filter(hook: WebhookRow) -> tuple[str, list[Any]]:
    """The WHERE terms (after the seq range) that keep the events `hook` receives: its kinds, and for
    a reseller's subscription only the events of its customers."""
    kinds = hook.events or ("none",)
    clause = f" AND kind IN ({', '.join('?' for _ in kinds)})"
    args: list[Any] = list(kinds)
    if hook.reseller is not None:
        clause += " AND reseller = ?"
        args.append(hook.reseller)
    return clause, args


class WebhookQueries(HistoryQueries):
    """Webhook subscriptions, the event outbox and its sequencer."""

    async def add_webhook(
        self, url: str, events: Sequence[WebhookKind], reseller: str | None, secret: str, created_by: str
    ) -> WebhookRow:
        """Create a subscription that starts with the next event (nothing from before it)."""
        async with self._write() as db:
            reseller_id = None
            if reseller is not None:
                found = await db.fetch_one("SELECT id FROM accounts WHERE number = ?", (reseller,))
                reseller_id = None if found is None else found[0]
            last = await db.fetch_one("SELECT last_seq FROM webhook_sequencer WHERE id = 1")
            await db.execute(
                "INSERT INTO webhooks (url, call_ended, change_made, reseller_id, secret, created_by,"
                " created_at, delivered_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    url,
                    int("call.ended" in events),
                    int("change.made" in events),
                    reseller_id,
                    secret,
                    created_by[:64],
                    self._now(),
                    0 if last is None else int(last[0]),
                ),
            )
            row = await db.fetch_one(f"{_WEBHOOK} WHERE w.secret = ?", (secret,))
        if row is None:
            raise AssertionError("the webhook just added is not there")
        return _webhook(row)

    async def get_webhook(self, webhook_id: int) -> WebhookRow | None:
        """One subscription by id."""
        async with self._read() as db:
            row = await db.fetch_one(f"{_WEBHOOK} WHERE w.id = ?", (int(webhook_id),))
        return None if row is None else _webhook(row)

    async def list_webhooks(self, reseller: str | None = None) -> list[WebhookRow]:
        """Every subscription, or only `reseller`'s own, oldest first."""
        clause, args = ("", ()) if reseller is None else (" WHERE r.number = ?", (reseller,))
        async with self._read() as db:
            rows = await db.fetch_all(f"{_WEBHOOK}{clause} ORDER BY w.id", args)
        return [_webhook(row) for row in rows]

    async def rotate_webhook_secret(
        self, webhook_id: int, secret: str, overlap: timedelta
    ) -> WebhookRow | None:
        """Sign with `secret` from now on, and with the one it replaces too for `overlap`; the row
        after, or None when there is no such subscription."""
        async with self._write() as db:
            changed = await db.execute(
                "UPDATE webhooks SET previous_secret = secret, previous_until = ?, secret = ? WHERE id = ?",
                (self._ts(datetime.now(UTC) + overlap), secret, int(webhook_id)),
            )
            row = await db.fetch_one(f"{_WEBHOOK} WHERE w.id = ?", (int(webhook_id),)) if changed else None
        return None if row is None else _webhook(row)

    async def remove_webhook(self, webhook_id: int) -> bool:
        """Delete a subscription; False when there was none."""
        async with self._write() as db:
            return await db.execute("DELETE FROM webhooks WHERE id = ?", (int(webhook_id),)) > 0

    async def webhook_backlog(self, hook: WebhookRow) -> Backlog:
        """How many of the events numbered so far `hook` has still to deliver, and the oldest's time:
        counted among the BACKLOG_SCAN numbered events after its cursor, a lower bound (not exact)
        when more were numbered."""
        clause, args = _events_filter(hook)
        upper = hook.delivered_seq + BACKLOG_SCAN
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT COUNT(*), MIN(created_at), (SELECT last_seq FROM webhook_sequencer WHERE id = 1)"
                f" FROM webhook_events WHERE seq > ? AND seq <= ?{clause}",
                (hook.delivered_seq, upper, *args),
            )
        count = int(row[0] or 0) if row else 0
        exact = row is None or row[2] is None or int(row[2]) <= upper
        return Backlog(count, _maybe_dt(row[1]) if row and count else None, exact)

    async def sequence_webhook_events(self, render: Callable[[EventSource], str], limit: int = 500) -> int:
        """Number the committed events that have no seq yet, in id order after the last seq given, with
        their data as `render` writes it; return how many. One sequencer at a time: each holds the
        webhook_sequencer row (on Galera two at once conflict, and one runs again). An event committed
        late (another node's, a slow transaction's) gets the next seq: none is skipped."""
        async with self._write() as db:
            await db.execute("UPDATE webhook_sequencer SET last_seq = last_seq WHERE id = 1")
            last_row = await db.fetch_one("SELECT last_seq FROM webhook_sequencer WHERE id = 1")
            last = 0 if last_row is None else int(last_row[0])
            pending = await db.fetch_all(
                "SELECT id, kind, source_id FROM webhook_events WHERE seq IS NULL ORDER BY id LIMIT ?",
                (int(limit),),
            )
            if not pending:
                return 0
            sources = await self._event_sources(db, pending)
            gone = []
            for event_id, kind, source_id in pending:
                source = sources.get((kind, int(source_id)))
                if source is None:  # its row was trimmed before it was numbered: nothing to tell
                    gone.append(event_id)
                    continue
                last += 1
                await db.execute(
                    "UPDATE webhook_events SET seq = ?, payload = ? WHERE id = ?",
                    (last, render(source), event_id),
                )
            if gone:
                marks = ", ".join("?" for _ in gone)
                await db.execute(f"DELETE FROM webhook_events WHERE id IN ({marks})", gone)
            await db.execute("UPDATE webhook_sequencer SET last_seq = ? WHERE id = 1", (last,))
        return len(pending) - len(gone)

    async def _event_sources(self, db: Executor, pending: list[Row]) -> dict[tuple[str, int], EventSource]:
        """The change-log and call-log rows the `pending` events are about, by (kind, source id)."""
        found: dict[tuple[str, int], EventSource] = {}
        changes = [int(source) for _, kind, source in pending if kind == "change.made"]
        calls = [int(source) for _, kind, source in pending if kind == "call.ended"]
        if changes:
            marks = ", ".join("?" for _ in changes)
            for row in await db.fetch_all(
                "SELECT c.id, c.changed_at, c.actor, c.action, c.subject, c.account, c.did, c.field,"
                f" c.old_value, c.new_value, c.username FROM change_log c WHERE c.id IN ({marks})",
                changes,
            ):
                found["change.made", int(row[0])] = EventSource("change.made", self._change_row(row), None)
        if calls:
            marks = ", ".join("?" for _ in calls)
            columns = ", ".join(_CALL_COLUMNS)
            for row in await db.fetch_all(f"SELECT id, {columns} FROM call_log WHERE id IN ({marks})", calls):
                found["call.ended", int(row[0])] = EventSource("call.ended", self._call(row[1:]), int(row[0]))
        return found

    async def webhook_work(self, owner: str, now: datetime) -> tuple[bool, bool]:
        """Whether there are events to number, and subscriptions `claim_webhooks` would hold now: one
        read, so that an idle process writes nothing."""
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM webhook_events WHERE seq IS NULL LIMIT 1) p),"
                " (SELECT COUNT(*) FROM (SELECT 1 FROM webhooks"
                " WHERE (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                " AND delivered_seq < (SELECT last_seq FROM webhook_sequencer WHERE id = 1) LIMIT 1) d)",
                (self._ts(now), owner, self._ts(now)),
            )
        return (False, False) if row is None else (bool(row[0]), bool(row[1]))

    async def claim_webhooks(self, owner: str, now: datetime, until: datetime) -> list[WebhookRow]:
        """Hold until `until` every subscription that has events to deliver, is due (no pause after a
        failure running) and is free (or `owner`'s already); return those `owner` holds."""
        async with self._write() as db:
            await db.execute(
                "UPDATE webhooks SET lease_owner = ?, lease_until = ?"
                " WHERE (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                " AND delivered_seq < (SELECT last_seq FROM webhook_sequencer WHERE id = 1)",
                (owner, self._ts(until), self._ts(now), owner, self._ts(now)),
            )
            rows = await db.fetch_all(f"{_WEBHOOK} WHERE w.lease_owner = ? ORDER BY w.id", (owner,))
        return [_webhook(row) for row in rows]

    async def webhook_events(self, hook: WebhookRow, limit: int = 100) -> tuple[list[WebhookEvent], int]:
        """The next events `hook` receives after its cursor, in seq order, at most `limit`, and the last
        seq given when they were read (every event up to it that `hook` receives is in the list,
        unless `limit` cut it)."""
        clause, args = _events_filter(hook)
        async with self._read() as db:
            last_row = await db.fetch_one("SELECT last_seq FROM webhook_sequencer WHERE id = 1")
            last = 0 if last_row is None else int(last_row[0])
            rows = await db.fetch_all(
                "SELECT seq, kind, account, reseller, created_at, payload FROM webhook_events"
                f" WHERE seq > ? AND seq <= ?{clause} ORDER BY seq LIMIT ?",
                (hook.delivered_seq, last, *args, int(limit)),
            )
        events = [
            WebhookEvent(int(r[0]), cast(WebhookKind, r[1]), r[2], r[3], _dt(r[4]), r[5] or "{}")
            for r in rows
        ]
        return events, last

    async def webhook_delivered(
        self, webhook_id: int, owner: str, seq: int, now: datetime, until: datetime
    ) -> bool:
        """Move the cursor of a subscription `owner` holds to `seq` (confirmed, or skipped as not its
        own), clear its failures and hold it until `until`; False when `owner` no longer holds it."""
        async with self._write() as db:
            return (
                await db.execute(
                    "UPDATE webhooks SET delivered_seq = ?, delivered_at = ?, attempts = 0,"
                    " next_attempt_at = NULL, failing_since = NULL, last_error = NULL, lease_until = ?"
                    " WHERE id = ? AND lease_owner = ? AND delivered_seq <= ?",
                    (seq, self._ts(now), self._ts(until), int(webhook_id), owner, seq),
                )
                > 0
            )

    async def webhook_failed(
        self, webhook_id: int, owner: str, error: str, now: datetime, next_attempt: datetime
    ) -> bool:
        """Record a failed delivery of a subscription `owner` holds: one attempt more, the next at
        `next_attempt`, failing since now unless it was already; the hold is let go."""
        async with self._write() as db:
            return (
                await db.execute(
                    "UPDATE webhooks SET attempts = attempts + 1, next_attempt_at = ?,"
                    " failing_since = COALESCE(failing_since, ?), last_error = ?,"
                    " lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                    (self._ts(next_attempt), self._ts(now), error[:255], int(webhook_id), owner),
                )
                > 0
            )

    async def webhook_due_now(self, webhook_id: int) -> None:
        """End a subscription's pause after failures (its receiver answered a test): deliver now."""
        async with self._write() as db:
            await db.execute("UPDATE webhooks SET next_attempt_at = NULL WHERE id = ?", (int(webhook_id),))

    async def release_webhooks(self, owner: str) -> None:
        """Let go of every subscription `owner` holds (a process stopping)."""
        async with self._write() as db:
            await db.execute(
                "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", (owner,)
            )

    async def prune_webhook_events(self, limit: int = 1000) -> int:
        """Delete at most `limit` numbered events every subscription is past; return how many."""
        async with self._write() as db:
            low = await db.fetch_one("SELECT MIN(delivered_seq) FROM webhooks")
            if low is None or low[0] is None:
                low = await db.fetch_one("SELECT last_seq FROM webhook_sequencer WHERE id = 1")
            bound = 0 if low is None or low[0] is None else int(low[0])
            ids = [
                row[0]
                for row in await db.fetch_all(
                    "SELECT id FROM webhook_events WHERE seq <= ? ORDER BY seq LIMIT ?", (bound, int(limit))
                )
            ]
            if not ids:
                return 0
            marks = ", ".join("?" for _ in ids)
            return await db.execute(f"DELETE FROM webhook_events WHERE id IN ({marks})", ids)
