# ruff: noqa: E501 - tables of refusals: one line per case reads better than wrapped ones
"""Webhooks through the real web process on both back ends: the Webhooks page and /api/v1/webhooks,
each role's scope, the one-line refusals, and the web process itself delivering a signed change.made
for a change made on the page (the issue's "done when", its web half)."""

from __future__ import annotations

import contextlib
import html
import re

from tests.plugins.web import Site, StartSite, api_error, api_token, csrf_of
from tests.plugins.webhooks import StartReceiver
from tests.support.db import dump
from tests.web.conftest import world

LOOPBACK = "127.0.0.0/8"


async def web_site(repo_url: str, start_site: StartSite) -> Site:
    await world(repo_url)
    return await start_site(repo_url, webhook_allow=LOOPBACK, webhook_timeout="2")


async def test_a_change_made_on_the_page_reaches_a_webhook_added_on_the_page(
    repo_url: str, start_site: StartSite, receiver: StartReceiver
) -> None:
    site = await web_site(repo_url, start_site)
    target = await receiver()
    async with contextlib.aclosing(await site.login("root")) as client:
        page = await client.get("/webhooks")
        assert page.status_code == 200 and "No webhooks." in page.text
        token = csrf_of(page.text)
        added = await client.post(
            "/webhooks", data={"csrf": token, "url": target.url(), "events": ["change.made"]}
        )
        assert added.status_code == 200, added.text
        secret = html.unescape(re.search(r'id="webhook-secret">([^<]+)<', added.text).group(1))  # type: ignore[union-attr]
        target.trust(secret)
        assert secret.startswith("whsec_")
        assert secret not in (await client.get("/webhooks")).text  # shown once
        switched = await client.post(
            "/dids/15550001/switch", data={"csrf": token, "enabled": "off", "back": "/dids"}
        )
        assert switched.status_code == 303
    got = await target.wait_for(1, "change.made")
    assert all(r["verified"] for r in got)
    data = got[0]["body"]["data"]
    assert (data["actor"], data["did"], data["field"], data["old"], data["new"]) == (
        "web:root",
        "15550001",
        "transfer",
        "true",
        "false",
    )


async def test_the_page_per_role(repo_url: str, start_site: StartSite) -> None:
    """A reseller's page lists its own webhooks only and offers no Reseller field; a customer gets
    404 for the page and every form; a form without its CSRF token changes nothing."""
    site = await web_site(repo_url, start_site)
    async with contextlib.aclosing(await site.login("res-b")) as other:
        token = csrf_of((await other.get("/webhooks")).text)
        made = await other.post(
            "/webhooks", data={"csrf": token, "url": "http://127.0.0.1:9/b", "events": ["call.ended"]}
        )
        assert made.status_code == 200
    async with contextlib.aclosing(await site.login("res-a")) as client:
        page = await client.get("/webhooks")
        assert "127.0.0.1:9/b" not in page.text and 'name="reseller"' not in page.text
        token = csrf_of(page.text)
        before = dump(site.database_url)["webhooks"]
        for action in ("remove", "test", "rotate"):
            assert (await client.post(f"/webhooks/1/{action}", data={"csrf": token})).status_code == 404
        refused = await client.post("/webhooks", data={"url": "http://127.0.0.1:9/a", "events": "call.ended"})
        assert refused.status_code == 403
        bad = await client.post("/webhooks", data={"csrf": token, "url": "ftp://x", "events": "call.ended"})
        assert bad.status_code == 400
        assert "URL: must start with http:// or https://" in bad.text
        none = await client.post("/webhooks", data={"csrf": token, "url": "http://127.0.0.1:9/a"})
        assert "Events: name at least one event" in none.text
        assert dump(site.database_url)["webhooks"] == before
    async with contextlib.aclosing(await site.login("res-b")) as owner:
        page = await owner.get("/webhooks")
        assert 'aria-label="Give webhook 1 a new signing secret"' in page.text
        rotated = await owner.post("/webhooks/1/rotate", data={"csrf": csrf_of(page.text)})
        assert rotated.status_code == 200 and "has a new signing secret, shown this once" in rotated.text
        secret = html.unescape(re.search(r'id="webhook-secret">([^<]+)<', rotated.text).group(1))  # type: ignore[union-attr]
        assert secret.startswith("whsec_") and secret not in (await owner.get("/webhooks")).text
        before = dump(site.database_url)["webhooks"]
    async with contextlib.aclosing(await site.login("cust-a1")) as customer:
        token = csrf_of((await customer.get("/dids")).text)
        assert (await customer.get("/webhooks")).status_code == 404
        made = await customer.post(
            "/webhooks", data={"csrf": token, "url": "http://127.0.0.1:9/c", "events": "call.ended"}
        )
        assert made.status_code == 404
        assert 'href="/webhooks"' not in (await customer.get("/dids")).text
    assert dump(site.database_url)["webhooks"] == before


async def test_the_api(repo_url: str, start_site: StartSite, receiver: StartReceiver) -> None:
    site = await web_site(repo_url, start_site)
    target = await receiver()
    async with site.client() as client:
        root = await api_token(client, "root")
        res_a = await api_token(client, "res-a")
        customer = await api_token(client, "cust-a1")
        made = await client.post(
            "/api/v1/webhooks",
            headers=root,
            json={"url": target.url(), "events": ["call.ended", "change.made"], "reseller": "200"},
        )
        assert made.status_code == 201, made.text
        hook = made.json()
        assert hook["owner"] == "200" and hook["secret"].startswith("whsec_") and hook["behind"] == 0
        target.trust(hook["secret"])
        listed = (await client.get("/api/v1/webhooks", headers=root)).json()["items"]
        assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
        assert (await client.get("/api/v1/webhooks", headers=res_a)).json()["items"] == []
        assert api_error(await client.get(f"/api/v1/webhooks/{hook['id']}", headers=res_a), 404)
        assert api_error(await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=res_a), 404)
        assert api_error(await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=res_a), 404)
        assert api_error(await client.post(f"/api/v1/webhooks/{hook['id']}/rotate", headers=res_a), 404)
        assert api_error(await client.post(f"/api/v1/webhooks/{hook['id']}/rotate", headers=customer), 403)
        assert (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=root)).json()[
            "previous_secret_until"
        ] is None
        assert api_error(await client.get("/api/v1/webhooks", headers=customer), 403)
        ping = await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=root)
        assert ping.json() == {"id": hook["id"], "delivered": True, "error": None}
        rotated = await client.post(f"/api/v1/webhooks/{hook['id']}/rotate", headers=root)
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["secret"] != hook["secret"] and rotated.json()["previous_secret_until"]
        assert "secret" not in (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=root)).json()
        target.trust(rotated.json()["secret"])  # the receiver switched over: the ping still verifies
        assert (await client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=root)).json()["delivered"]
        pings = [r for r in target.records() if r["body"]["type"] == "ping"]
        assert len(pings) == 2 and all(p["verified"] for p in pings)
        for body, status, field, message in [
            ({"url": "gopher://x", "events": ["call.ended"]}, 422, "url", "url: must start with http"),
            ({"url": "http://10.0.0.1/", "events": ["call.ended"]}, 422, "url", "url: 10.0.0.1 is a private"),
            ({"url": target.url("/x"), "events": ["call.begun"]}, 422, "events", "events: unknown event"),
            ({"url": target.url("/x"), "events": [1]}, 422, "events", "events: must be an array of strings"),
            ({"url": target.url("/x"), "events": "call.ended"}, 422, "events", "events: must be an array"),
            ({"url": target.url("/x"), "events": ["call.ended"], "reseller": "999"}, 404, None, "account 999"),
            ({"url": target.url("/x"), "events": ["call.ended"], "reseller": "1001"}, 422, "reseller", "reseller: account 1001 is a customer"),
            ({"url": target.url(), "events": ["call.ended"], "reseller": "200"}, 409, None, "webhook 1 already"),
        ]:  # fmt: skip
            refused = api_error(await client.post("/api/v1/webhooks", headers=root, json=body), status)
            assert refused["field"] == field and refused["message"].startswith(message), refused
        as_reseller = await client.post(
            "/api/v1/webhooks",
            headers=res_a,
            json={"url": target.url("/a"), "events": ["call.ended"], "reseller": "200"},
        )
        assert api_error(as_reseller, 404)["message"] == "account 200 not found"
        gone = await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=root)
        assert gone.status_code == 204
        assert (await client.get("/api/v1/webhooks", headers=root)).json()["items"] == []
