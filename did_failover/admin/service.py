"""The service layer the CLI, the web page and the API share: every management operation, each with
its validation and its scope check (admin/scope.py), so that no rule is written twice. Its parts, by
aggregate: accounts and DIDs (`_accounts.py`), the call history and change log (`_history.py`), the
transfer settings and CSV (`_transfers.py`)."""

from __future__ import annotations

from did_failover.admin._accounts import ACCOUNT_TYPES
from did_failover.admin._history import OUTSIDE, HistoryOperations
from did_failover.admin._transfers import TransferOperations
from did_failover.admin.scope import ADMIN, Scope

__all__ = ["ACCOUNT_TYPES", "ADMIN", "OUTSIDE", "Scope", "Service"]


class Service(HistoryOperations, TransferOperations):
    """Every management operation, each taking the acting Scope; validation before any write."""

    async def init_db(self) -> int:
        """Create the schema idempotently and return its version."""
        return await self.repo.init_schema()
