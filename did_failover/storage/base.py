"""The async repository interface both storage back ends implement (its rows: storage/records.py).

Longer than our other modules on purpose: it is the one contract of the storage layer (every
operation, documented), which the SQL and the contract tests are written against.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from did_failover.storage.records import (
    AccountRow,
    AccountType,
    CallRecord,
    ChangeRow,
    DIDPage,
    DIDRoute,
    DIDRow,
    NewDID,
    PageKey,
    Role,
    SessionRow,
    TokenRow,
    TransferRow,
    UserRow,
)
from did_failover.storage.webhook_records import Backlog, EventSource, WebhookEvent, WebhookKind, WebhookRow

SCHEMA_VERSION = 7
"""Version of the schema this code reads and writes (the `schema_version` row).

1: accounts, DIDs, transfer settings, call log. 2: the change log and its triggers, web users and
their sessions, API tokens. 3: forward lists (destination columns hold up to 5), after-hours
destinations and business-hours schedules, every leg of a call in the call log. 4: failed logins
(the throttle every web process shares), usernames compared exactly on MySQL too. 5: one row per
call in the call log (unique uniqueid and started_at), so that a batch written again adds nothing.
6: the grid's sort keys (did_grid), DID counts per account and the suffixes of DID numbers, so that
every page of a million DIDs is read from one index. 7: webhook subscriptions and the outbox of their
events (webhooks, webhook_events, webhook_sequencer)."""

_ACTOR: ContextVar[str] = ContextVar("did_failover_actor", default="did-failover")


def current_actor() -> str:
    """Who the change log records for writes made now (in this task): see `acting_as`."""
    return _ACTOR.get()


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record the repository writes made inside the block (in this task only) as `actor`'s."""
    token = _ACTOR.set(actor[:64])
    try:
        yield
    finally:
        _ACTOR.reset(token)


def schema_problem(version: int | None, where: str = "the database") -> str | None:
    """Why a database whose schema has `version` (None: no schema) cannot be used here, else None;
    `where` names the database (a repository's `where`)."""
    if version == SCHEMA_VERSION:
        return None
    if version is not None and version > SCHEMA_VERSION:
        return (
            f"{where} has schema version {version}, newer than this did-failover "
            f"({SCHEMA_VERSION}): upgrade did-failover"
        )
    found = "no schema" if version is None else f"schema version {version}"
    return (
        f"{where} has {found}, this did-failover needs version {SCHEMA_VERSION}: run 'did-failover db init'"
    )


class Repository(abc.ABC):
    """Async access to accounts, DIDs, transfer settings and the call log; one per process.

    DID arguments are digits, a leading + is ignored. Every write runs in one transaction:
    when it fails nothing is changed. Unreachable database or timeout: StorageUnavailable.
    A write refused by a constraint (duplicate number, unknown account): InputError.
    """

    async def __aenter__(self) -> Self:
        """Connect (`async with open_repository(...) as repo`)."""
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connections."""
        await self.close()

    where: str = "the database"
    """The database in words for messages, without a password: `SQLite database /var/lib/x.db`,
    `MySQL database didfailover on 127.0.0.1:3306`."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection or pool now (otherwise done on first use); idempotent."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection; idempotent."""

    @abc.abstractmethod
    async def schema_version(self) -> int | None:
        """The database's schema version, None when the schema was never created."""

    @abc.abstractmethod
    async def init_schema(self) -> int:
        """Create the schema idempotently and return its version; refuse a newer database."""

    @abc.abstractmethod
    async def get_route(self, did: str) -> DIDRoute | None:
        """The routing data of one DID (hot path: one query), None when unknown."""

    @abc.abstractmethod
    async def get_account(self, number: str) -> AccountRow | None:
        """One account by number."""

    @abc.abstractmethod
    async def list_accounts(self, reseller: str | None = None) -> list[AccountRow]:
        """Every account, or only the customers of `reseller`, ordered by number."""

    @abc.abstractmethod
    async def add_account(
        self, number: str, name: str, type: AccountType, reseller: str | None
    ) -> AccountRow:
        """Create an account (active, transfer on)."""

    @abc.abstractmethod
    async def update_account(
        self,
        number: str,
        *,
        name: str | None = None,
        active: bool | None = None,
        transfer_enabled: bool | None = None,
    ) -> AccountRow:
        """Change the given fields of an account."""

    @abc.abstractmethod
    async def get_did(self, did: str) -> DIDRow | None:
        """One DID by number."""

    @abc.abstractmethod
    async def list_dids(self, account: str | None = None, reseller: str | None = None) -> list[DIDRow]:
        """DIDs, optionally only one account's or one reseller's customers', ordered by number."""

    @abc.abstractmethod
    async def known_dids(self, numbers: Iterable[str]) -> set[str]:
        """Which of `numbers` are DIDs, of any account."""

    @abc.abstractmethod
    async def add_did(
        self, did: str, account: str, primary: str, ring_timeout: int, max_channels: int
    ) -> DIDRow:
        """Create a DID (active, no transfer settings)."""

    @abc.abstractmethod
    async def update_did(
        self,
        did: str,
        *,
        account: str | None = None,
        primary: str | None = None,
        ring_timeout: int | None = None,
        max_channels: int | None = None,
        active: bool | None = None,
    ) -> DIDRow:
        """Change the given fields of a DID."""

    @abc.abstractmethod
    async def remove_did(self, did: str) -> bool:
        """Delete a DID and its transfer settings; False when it did not exist."""

    @abc.abstractmethod
    async def get_transfer(self, did: str) -> TransferRow | None:
        """The transfer settings of one DID, None when it has none."""

    @abc.abstractmethod
    async def list_transfers(self, reseller: str | None = None) -> list[TransferRow]:
        """Every transfer-settings row, or only those of `reseller`'s customers' DIDs."""

    @abc.abstractmethod
    async def set_transfers(self, rows: Sequence[TransferRow]) -> None:
        """Create or replace the transfer settings of every row's DID, all or nothing."""

    async def insert_call(self, row: CallRecord) -> None:
        """Append one routed call to the call log."""
        await self.insert_calls([row])

    @abc.abstractmethod
    async def insert_calls(self, rows: Sequence[CallRecord]) -> None:
        """Append routed calls to the call log in one transaction."""

    @abc.abstractmethod
    async def list_calls(
        self,
        *,
        did: str | None = None,
        account: str | None = None,
        reseller: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[CallRecord]:
        """Call history, newest first; `reseller` keeps only that reseller's customers' calls."""

    @abc.abstractmethod
    async def delete_calls_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` of the oldest calls started before `cutoff`; return how many."""

    @abc.abstractmethod
    async def list_changes(
        self,
        *,
        did: str | None = None,
        account: str | None = None,
        reseller: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[ChangeRow]:
        """The change log, newest first; `reseller` keeps only that reseller's customers' changes."""

    @abc.abstractmethod
    async def last_change_id(self) -> int:
        """The id of the newest change-log row, 0 when there is none (one indexed lookup)."""

    @abc.abstractmethod
    async def changes_after(self, after: int, also: Sequence[int] = (), limit: int = 1000) -> list[ChangeRow]:
        """Change-log rows with an id above `after` or in `also`, oldest first, at most `limit`."""

    @abc.abstractmethod
    async def delete_changes_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most `limit` of the oldest changes made before `cutoff`; return how many."""

    @abc.abstractmethod
    async def import_dids(self, new: Sequence[NewDID], transfers: Sequence[TransferRow]) -> None:
        """Create the `new` DIDs, then create or replace the transfer settings of every row's DID, all
        in one transaction (a CSV import): many rows a statement where nothing is there yet."""

    @abc.abstractmethod
    async def page_dids(
        self,
        *,
        reseller: str | None = None,
        account: str | None = None,
        search: str = "",
        order: str = "did",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
        after: PageKey | None = None,
        before: PageKey | None = None,
        last: bool = False,
    ) -> DIDPage:
        """One page of DIDs with their account and transfer settings, and how many match in all.

        The page starts after `after`, ends before `before`, is the last one (`last`), or starts at
        `offset`; `search` matches part of the DID or of the account number; `order` is one of
        PAGE_ORDERS."""

    @abc.abstractmethod
    async def get_user(self, username: str) -> UserRow | None:
        """One user by name."""

    @abc.abstractmethod
    async def list_users(self, reseller: str | None = None) -> list[UserRow]:
        """Every user, or only those of `reseller` itself and of its customers, ordered by name."""

    @abc.abstractmethod
    async def add_user(self, username: str, role: Role, account: str | None, password_hash: str) -> UserRow:
        """Create an active user."""

    @abc.abstractmethod
    async def update_user(
        self, username: str, *, password_hash: str | None = None, active: bool | None = None
    ) -> UserRow:
        """Change a user's password or status; either ends every session of that user."""

    @abc.abstractmethod
    async def remove_user(self, username: str) -> bool:
        """Delete a user and every session of theirs; False when there was none."""

    @abc.abstractmethod
    async def login_failures(
        self, buckets: Sequence[str], since: datetime
    ) -> dict[str, tuple[int, datetime]]:
        """Per bucket that has any, the failed logins since `since`: how many, and the oldest's time."""

    @abc.abstractmethod
    async def add_login_failure(self, buckets: Sequence[str], at: datetime, forget_before: datetime) -> None:
        """Record a failed login at `at` in each bucket, and forget every failure before `forget_before`."""

    @abc.abstractmethod
    async def add_session(self, key: str, username: str, csrf_token: str) -> None:
        """Store a new session under `key` (the SHA-256 of its token) for an existing user."""

    @abc.abstractmethod
    async def get_session(self, key: str) -> SessionRow | None:
        """The session stored under `key` with its user, None when there is none."""

    @abc.abstractmethod
    async def touch_session(self, key: str) -> None:
        """Mark the session as used now (its idle time starts again)."""

    @abc.abstractmethod
    async def remove_session(self, key: str) -> None:
        """End one session."""

    @abc.abstractmethod
    async def remove_sessions_idle_since(self, cutoff: datetime) -> int:
        """End every session not used since `cutoff`; return how many."""

    @abc.abstractmethod
    async def add_token(
        self, username: str, name: str, token_hash: str, expires_at: datetime | None
    ) -> TokenRow:
        """Store an API token (by the SHA-256 of it) for an existing user."""

    @abc.abstractmethod
    async def token_user(self, token_hash: str) -> tuple[TokenRow, UserRow] | None:
        """The token stored under `token_hash` and its user as they are now, None when there is none."""

    @abc.abstractmethod
    async def list_tokens(self, username: str | None = None) -> list[TokenRow]:
        """Every token, or one user's, oldest first."""

    @abc.abstractmethod
    async def remove_token(self, token_id: int) -> bool:
        """Delete one token; False when there was none."""

    @abc.abstractmethod
    async def web_secret(self, name: str, new_value: str) -> str:
        """The secret stored under `name`, storing `new_value` first when there is none yet."""

    async def set_transfer(self, row: TransferRow) -> None:
        """Create or replace the transfer settings of one DID."""
        await self.set_transfers([row])

    @abc.abstractmethod
    async def add_webhook(
        self, url: str, events: Sequence[WebhookKind], reseller: str | None, secret: str, created_by: str
    ) -> WebhookRow:
        """Create a subscription that starts with the next event (nothing from before it)."""

    @abc.abstractmethod
    async def get_webhook(self, webhook_id: int) -> WebhookRow | None:
        """One subscription by id."""

    @abc.abstractmethod
    async def list_webhooks(self, reseller: str | None = None) -> list[WebhookRow]:
        """Every subscription, or only `reseller`'s own, oldest first."""

    @abc.abstractmethod
    async def rotate_webhook_secret(
        self, webhook_id: int, secret: str, overlap: timedelta
    ) -> WebhookRow | None:
        """Sign with `secret` from now on, and with the one it replaces too for `overlap`; the row
        after, or None when there is no such subscription."""

    @abc.abstractmethod
    async def remove_webhook(self, webhook_id: int) -> bool:
        """Delete a subscription; False when there was none."""

    @abc.abstractmethod
    async def webhook_backlog(self, hook: WebhookRow) -> Backlog:
        """How many of the events numbered so far `hook` has still to deliver, and the oldest's time."""

    @abc.abstractmethod
    async def sequence_webhook_events(self, render: Callable[[EventSource], str], limit: int = 500) -> int:
        """Number the committed events that have none yet, in commit order, with their data as `render`
        writes it; return how many (one sequencer at a time)."""

    @abc.abstractmethod
    async def webhook_work(self, owner: str, now: datetime) -> tuple[bool, bool]:
        """Whether there are events to number, and subscriptions `claim_webhooks` would hold now."""

    @abc.abstractmethod
    async def claim_webhooks(self, owner: str, now: datetime, until: datetime) -> list[WebhookRow]:
        """Hold until `until` every due subscription with events to deliver that is free or `owner`'s;
        return those `owner` holds."""

    @abc.abstractmethod
    async def webhook_events(self, hook: WebhookRow, limit: int = 100) -> tuple[list[WebhookEvent], int]:
        """The next events `hook` receives after its cursor, in seq order, and the last seq given."""

    @abc.abstractmethod
    async def webhook_delivered(
        self, webhook_id: int, owner: str, seq: int, now: datetime, until: datetime
    ) -> bool:
        """Move the cursor of a subscription `owner` holds to `seq` and clear its failures; False when
        `owner` no longer holds it."""

    @abc.abstractmethod
    async def webhook_failed(
        self, webhook_id: int, owner: str, error: str, now: datetime, next_attempt: datetime
    ) -> bool:
        """Record a failed delivery: one attempt more, the next at `next_attempt`; the hold is let go."""

    @abc.abstractmethod
    async def webhook_due_now(self, webhook_id: int) -> None:
        """End a subscription's pause after failures: deliver now."""

    @abc.abstractmethod
    async def release_webhooks(self, owner: str) -> None:
        """Let go of every subscription `owner` holds."""

    @abc.abstractmethod
    async def prune_webhook_events(self, limit: int = 1000) -> int:
        """Delete at most `limit` numbered events every subscription is past; return how many."""
