"""End to end: a PUT to a DID's busy forward through the API, then a real call through the Asterisk
test bed is forwarded there (the change reaches the running server through the change log)."""

from __future__ import annotations

import asyncio

import httpx

from did_failover.admin.service import ADMIN
from did_failover.admin.users import Users
from did_failover.storage import open_repository
from tests.plugins.servers import StartServe
from tests.plugins.web import PASSWORD, StartSite
from tests.test_live_changes import AFTER, _real_call, _serve, _world
from tests.testbed.asterisk import AGI_PORT, Ami


async def test_a_busy_forward_put_through_the_api_takes_the_next_real_call(
    mysql_url: str, serve: StartServe, start_site: StartSite, ami: Ami
) -> None:
    """The DID forwards busy calls to the answering endpoint; the API points BUSY at a PSTN number;
    1.5 s later a real busy call reaches that number, and the change log names the API user."""
    did = "15553900031"
    await _world(mysql_url, did)
    async with httpx.AsyncClient(base_url=(await start_site(mysql_url)).url) as client:
        async with open_repository(mysql_url, 5.0) as repo:
            await Users(repo).add_user(ADMIN, "billing", "admin", None, PASSWORD)
        token = (
            await client.post("/api/v1/tokens", json={"username": "billing", "password": PASSWORD})
        ).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        await _serve(serve, mysql_url, AGI_PORT)
        outcome, reached = await _real_call(ami, did)
        assert ((outcome.result, outcome.leg), reached) == (("ANSWERED", "BUSY"), ["busy", "answer"])
        put = await client.put(
            f"/api/v1/dids/{did}/forwards/busy",
            headers=headers,
            json={"enabled": True, "destination": "pstn:15550004444"},
        )
        assert put.status_code == 204, put.text
        await asyncio.sleep(AFTER)
        outcome, reached = await _real_call(ami, did)
        assert ((outcome.result, outcome.leg), reached) == (("ANSWERED", "BUSY"), ["busy", "15550004444"])
        changes = (await client.get("/api/v1/changes", headers=headers, params={"did": did})).json()["items"]
        assert (changes[0]["actor"], changes[0]["field"], changes[0]["new"]) == (
            "api:billing",
            "busy",
            "pstn:15550004444",
        )
