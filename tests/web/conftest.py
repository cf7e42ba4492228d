"""The web tests' world: accounts, DIDs and a user of each role, and the web process over it (the
process itself: tests/plugins/web.py)."""

from __future__ import annotations

import pytest

from did_failover.admin.service import ADMIN, Service
from did_failover.admin.users import hash_password
from did_failover.storage import acting_as, open_repository
from tests.plugins.web import PASSWORD, Site, StartSite

_HASH: dict[str, str] = {}


async def world(url: str) -> None:
    """Resellers 100 and 200 with customers 1001 and 2001, one DID each, and a user of each role."""
    async with open_repository(url, 5.0) as repo:
        service = Service(repo)
        await service.init_db()
        await service.add_account(ADMIN, "100", "Reseller A", "reseller")
        await service.add_account(ADMIN, "200", "Reseller B", "reseller")
        await service.add_account(ADMIN, "1001", "Customer A1", "customer", "100")
        await service.add_account(ADMIN, "2001", "Customer B1", "customer", "200")
        await service.add_did(ADMIN, "15550001", "1001", "endpoint:desk-1")
        await service.add_did(ADMIN, "15550002", "2001", "endpoint:desk-2")
        await service.set_transfer(ADMIN, "15550001", busy="pstn:+4930999")
        # One argon2 hash for every user of every test: hashing is tens of milliseconds each.
        password_hash = _HASH.get(PASSWORD) or _HASH.setdefault(PASSWORD, await hash_password(PASSWORD))
        with acting_as(ADMIN.actor):
            await repo.add_user("root", "admin", None, password_hash)
            await repo.add_user("res-a", "reseller", "100", password_hash)
            await repo.add_user("res-b", "reseller", "200", password_hash)
            await repo.add_user("cust-a1", "customer", "1001", password_hash)


@pytest.fixture
async def site(repo_url: str, start_site: StartSite) -> Site:
    """The web page over the world above, on each back end."""
    await world(repo_url)
    return await start_site(repo_url)
