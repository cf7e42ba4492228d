"""Webhook subscriptions, as the acting scope may see and change them: the admin's receive every
event, a reseller's only its customers'; customers have none."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from did_failover.admin._history import HistoryOperations
from did_failover.admin.scope import Scope, scoped
from did_failover.errors import Conflict, InputError, NotFound
from did_failover.numbers import account_number, whole_number
from did_failover.storage.webhook_records import WEBHOOK_KINDS, Backlog, WebhookKind, WebhookRow
from did_failover.webhooks.delivery import is_failing, ping
from did_failover.webhooks.signing import new_secret
from did_failover.webhooks.urls import UrlRefused, check_url, resolve
from fastagi.server import IPNetwork

MAX_WEBHOOKS = 20
"""Subscriptions one owner (the admin, or one reseller) may have."""
ROTATION_OVERLAP = timedelta(hours=24)
"""How long a rotated-out secret still signs (beside the new one), for the receiver to switch over."""
WebhookStatus = Literal["ok", "retrying", "failing"]


@dataclass(frozen=True, slots=True)
class WebhookView:
    """A subscription as `webhook list`, the page and the API show it (never its secret)."""

    row: WebhookRow
    backlog: Backlog
    status: WebhookStatus

    @property
    def behind(self) -> str:
        """The backlog as shown: `12`, or `10000+` when there are more than were counted."""
        return f"{self.backlog.events}" if self.backlog.exact else f"{self.backlog.events}+"

    @property
    def owner(self) -> str:
        """`admin`, or the reseller's account number."""
        return self.row.reseller or "admin"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        row = self.row

        def stamp(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        now = datetime.now(UTC)
        return {
            "id": row.id,
            "url": row.url,
            "events": list(row.events),
            "owner": self.owner,
            "status": self.status,
            "behind": self.backlog.events,
            "behind_exact": self.backlog.exact,
            "oldest_undelivered_at": stamp(self.backlog.oldest),
            "last_delivered_at": stamp(row.delivered_at),
            "failed_attempts": row.attempts,
            "failing_since": stamp(row.failing_since),
            "next_attempt_at": stamp(row.next_attempt_at),
            "last_error": row.last_error,
            "previous_secret_until": stamp(row.previous_until if len(row.secrets(now)) > 1 else None),
            "created_by": row.created_by,
            "created_at": stamp(row.created_at),
        }


def parse_events(value: str | Sequence[str], field: str = "events") -> tuple[WebhookKind, ...]:
    """The event kinds of `call.ended,change.made` (or a list of them); InputError naming an unknown one."""
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if not [n for n in names if n]:
        raise InputError(f"name at least one event: {', '.join(WEBHOOK_KINDS)}", field)
    for name in names:
        if name not in WEBHOOK_KINDS:
            raise InputError(f"unknown event {name[:40]!r}: the events are {', '.join(WEBHOOK_KINDS)}", field)
    return tuple(kind for kind in WEBHOOK_KINDS if kind in names)


class WebhookOperations(HistoryOperations):
    """Webhook subscriptions: add, list, remove, test and rotate the secret."""

    webhook_allow: tuple[IPNetwork, ...] = ()
    """DID_FAILOVER_WEBHOOK_ALLOW: the networks a webhook may reach besides public addresses."""
    webhook_timeout: float = 5.0
    """DID_FAILOVER_WEBHOOK_TIMEOUT: seconds a receiver has to answer (the test ping's too)."""

    async def check_webhook_url(self, url: str) -> str:
        """`url` when a webhook may point there: http(s), a host that resolves to an allowed address."""
        url = url.strip()
        try:
            _, host, port = check_url(url)
            async with asyncio.timeout(self.webhook_timeout):
                await resolve(host, port, self.webhook_allow)
        except UrlRefused as exc:
            raise InputError(str(exc), "url") from None
        except TimeoutError:
            raise InputError(
                f"host {host[:60]} did not resolve within {self.webhook_timeout:g} s", "url"
            ) from None
        return url

    @scoped(customer_may=False)
    async def add_webhook(
        self, scope: Scope, url: str, events: str | Sequence[str], reseller: str | None = None
    ) -> WebhookRow:
        """Subscribe `url` to `events` for the scope: the admin's gets every event, a reseller's its
        customers'. The admin may make one for a `reseller` (the API's field; the CLI acts as the
        reseller instead). The returned row holds the signing secret, shown this once."""
        kinds = parse_events(events)
        owner = await self._webhook_owner(scope, reseller)
        url = await self.check_webhook_url(url)
        mine = await self.repo.list_webhooks(owner) if owner else await self._admins()
        for hook in mine:
            if hook.url == url:
                raise Conflict(f"webhook {hook.id} already sends to {url}")
        if len(mine) >= MAX_WEBHOOKS:
            raise InputError(
                f"{len(mine)} webhooks already: remove one first (at most {MAX_WEBHOOKS})", "url"
            )
        return await self.repo.add_webhook(url, kinds, owner, new_secret(), scope.actor)

    async def _webhook_owner(self, scope: Scope, reseller: str | None) -> str | None:
        """The reseller a new subscription belongs to (None: the admin's)."""
        if reseller is None or reseller == scope.reseller:
            return scope.reseller
        if scope.reseller is not None:
            raise NotFound(f"account {reseller} not found")
        account = await self.repo.get_account(account_number(reseller, "reseller"))
        if account is None:
            raise NotFound(f"account {reseller} not found")
        if account.type != "reseller":
            raise InputError(f"account {reseller} is a {account.type} account, not a reseller", "reseller")
        return account.number

    async def _admins(self) -> list[WebhookRow]:
        return [hook for hook in await self.repo.list_webhooks() if hook.reseller is None]

    @scoped(customer_may=False)
    async def list_webhooks(self, scope: Scope) -> list[WebhookView]:
        """The scope's subscriptions (the admin: every one), each with how far behind it is."""
        return [await self._view(hook) for hook in await self.repo.list_webhooks(scope.reseller)]

    @scoped(customer_may=False)
    async def show_webhook(self, scope: Scope, webhook_id: int | str) -> WebhookView:
        """One of the scope's subscriptions, with how far behind it is."""
        return await self._view(await self._webhook(scope, webhook_id))

    async def _view(self, hook: WebhookRow) -> WebhookView:
        now = datetime.now(UTC)
        status: WebhookStatus = "failing" if is_failing(hook, now) else "retrying" if hook.attempts else "ok"
        return WebhookView(hook, await self.repo.webhook_backlog(hook), status)

    async def _webhook(self, scope: Scope, webhook_id: int | str) -> WebhookRow:
        number = str(webhook_id).strip()
        found = whole_number(number, 18)
        if found is None:
            raise InputError(f"not a webhook id: {number[:20]!r}", "id")
        hook = await self.repo.get_webhook(found)
        if hook is None or (scope.reseller is not None and hook.reseller != scope.reseller):
            raise NotFound(f"webhook {number} not found")
        return hook

    @scoped(customer_may=False)
    async def remove_webhook(self, scope: Scope, webhook_id: int | str) -> None:
        """Delete one of the scope's subscriptions (its undelivered events go with it)."""
        hook = await self._webhook(scope, webhook_id)
        if not await self.repo.remove_webhook(hook.id):
            raise NotFound(f"webhook {hook.id} not found")

    @scoped(customer_may=False)
    async def test_webhook(self, scope: Scope, webhook_id: int | str) -> tuple[WebhookRow, str | None]:
        """Send a signed `ping` to one of the scope's subscriptions now; the reason it failed, or None.
        A ping answered ends the pause after failures: delivery resumes at once."""
        hook = await self._webhook(scope, webhook_id)
        problem = await ping(hook, self.webhook_timeout, self.webhook_allow)
        if problem is None and hook.next_attempt_at is not None:
            await self.repo.webhook_due_now(hook.id)
        return hook, problem

    @scoped(customer_may=False)
    async def rotate_webhook(self, scope: Scope, webhook_id: int | str) -> WebhookRow:
        """Give one of the scope's subscriptions a new signing secret (in the returned row, shown this
        once). The old one signs too for ROTATION_OVERLAP, so that the receiver can switch over
        without refusing a request; a secret replaced before that stops signing at once."""
        hook = await self._webhook(scope, webhook_id)
        rotated = await self.repo.rotate_webhook_secret(hook.id, new_secret(), ROTATION_OVERLAP)
        if rotated is None:
            raise NotFound(f"webhook {hook.id} not found")
        return rotated


__all__ = ["MAX_WEBHOOKS", "ROTATION_OVERLAP", "WebhookOperations", "WebhookView", "parse_events"]
