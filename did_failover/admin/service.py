"""The service layer the CLI, the web page and the API share: every management operation, each with
its validation and its scope check (admin/scope.py), so that no rule is written twice. Its parts, by
aggregate: accounts and DIDs (`_accounts.py`), the call history and change log (`_history.py`), the
transfer settings and CSV (`_transfers.py`), webhook subscriptions (`_webhooks.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from did_failover.admin._accounts import ACCOUNT_TYPES
from did_failover.admin._history import OUTSIDE
from did_failover.admin._transfers import TransferOperations
from did_failover.admin._webhooks import WebhookOperations
from did_failover.admin.scope import ADMIN, Scope
from did_failover.storage.base import Repository
from fastagi.server import IPNetwork

__all__ = ["ACCOUNT_TYPES", "ADMIN", "OUTSIDE", "Scope", "Service"]


class Service(TransferOperations, WebhookOperations):
    """Every management operation, each taking the acting Scope; validation before any write."""

    def __init__(
        self,
        repo: Repository,
        max_ring: int = 180,
        webhook_allow: Sequence[IPNetwork] = (),
        webhook_timeout: float = 5.0,
    ) -> None:
        super().__init__(repo, max_ring)
        self.webhook_allow = tuple(webhook_allow)
        self.webhook_timeout = webhook_timeout

    async def init_db(self) -> int:
        """Create the schema idempotently and return its version."""
        return await self.repo.init_schema()
