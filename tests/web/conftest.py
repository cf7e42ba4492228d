"""The web tests' world: accounts, DIDs and a user of each role, and the web process over it (the
process itself: tests/plugins/web.py)."""

from __future__ import annotations

import pytest

from did_failover.admin.service import ADMIN, Service
from did_failover.admin.users import Users
from did_failover.storage import open_repository
from tests.plugins.web import PASSWORD, Site, StartSite


async def world(url: str) -> None:
    """Resellers 100 and 200 with customers 1001 and 2001, one DID each, and a user of each role."""
    async with open_repository(url, 5.0) as repo:
        service, users = Service(repo), Users(repo)
        await service.init_db()
        await service.add_account(ADMIN, "100", "Reseller A", "reseller")
        await service.add_account(ADMIN, "200", "Reseller B", "reseller")
        await service.add_account(ADMIN, "1001", "Customer A1", "customer", "100")
        await service.add_account(ADMIN, "2001", "Customer B1", "customer", "200")
        await service.add_did(ADMIN, "15550001", "1001", "endpoint:desk-1")
        await service.add_did(ADMIN, "15550002", "2001", "endpoint:desk-2")
        await service.set_transfer(ADMIN, "15550001", busy="pstn:+4930999")
        await users.add_user(ADMIN, "root", "admin", None, PASSWORD)
        await users.add_user(ADMIN, "res-a", "reseller", "100", PASSWORD)
        await users.add_user(ADMIN, "res-b", "reseller", "200", PASSWORD)
        await users.add_user(ADMIN, "cust-a1", "customer", "1001", PASSWORD)


@pytest.fixture
async def site(repo_url: str, start_site: StartSite) -> Site:
    """The web page over the world above, on each back end."""
    await world(repo_url)
    return await start_site(repo_url)
