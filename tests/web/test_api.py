"""The REST API over real HTTP, for each role: tokens, DIDs, forwards, accounts, calls, changes, errors."""

from __future__ import annotations

import json
import os

from tests.plugins.web import PASSWORD, Site, api_error, api_token
from tests.support.db import dump, execute
from tests.support.ops import cli


async def test_tokens_from_a_login_and_from_the_cli_and_how_they_end(site: Site) -> None:
    """POST /tokens, a CLI token, no token, a removed one, an expired one, a deactivated user's."""
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": site.database_url}
    async with site.client() as client:
        assert api_error(
            await client.post("/api/v1/tokens", json={"username": "root", "password": "nope, wrong"}), 401
        )
        headers = await api_token(client, "root")
        assert (await client.get("/api/v1/dids", headers=headers)).json()["total"] == 2
        missing = await client.get("/api/v1/dids")
        assert api_error(missing, 401)["message"].startswith("authentication:")
        assert missing.headers["www-authenticate"] == "Bearer"
        code, out, err = await cli(env, "token", "add", "res-a", "--expires", "30", "--name", "billing")
        assert code == 0, err
        reseller = {"Authorization": f"Bearer {out.splitlines()[-1]}"}
        assert (await client.get("/api/v1/dids", headers=reseller)).json()["total"] == 1
        listed = json.loads((await cli(env, "token", "list", "res-a", "--json"))[1])
        assert [(t["username"], t["name"]) for t in listed] == [("res-a", "billing")]
        assert (await cli(env, "token", "remove", str(listed[0]["id"])))[0] == 0
        assert api_error(await client.get("/api/v1/dids", headers=reseller), 401)
        execute(site.database_url, "UPDATE api_tokens SET expires_at = '2020-01-01 00:00:00'")
        assert "expired" in api_error(await client.get("/api/v1/dids", headers=headers), 401)["message"]
        fresh = await api_token(client, "cust-a1")
        assert (await cli(env, "user", "set", "cust-a1", "--inactive"))[0] == 0
        assert api_error(await client.get("/api/v1/dids", headers=fresh), 401)


async def test_an_admin_provisions_a_did_and_its_forwards(site: Site) -> None:
    """Create an account and a DID, set and read its forwards, read it back; each change as api:root."""
    async with site.client() as client:
        h = await api_token(client, "root")
        made = await client.post(
            "/api/v1/accounts", headers=h, json={"number": "3001", "name": "Acme", "type": "customer"}
        )
        assert made.status_code == 201 and made.json()["number"] == "3001"
        did = await client.post(
            "/api/v1/dids",
            headers=h,
            json={"did": "+15559000001", "account": "3001", "primary": "endpoint:desk"},
        )
        assert did.status_code == 201 and did.json()["did"] == "15559000001"
        forwards = {
            "busy": {"enabled": True, "destination": "pstn:+4930999"},
            "noanswer": {"enabled": True, "destination": "sip:vm@pbx.example.com"},
            "unavailable": {"enabled": False, "destination": None},
            "unconditional": {"enabled": False, "destination": None},
            "enabled": True,
            "timeout": 20,
            "caller_id": "did",
        }
        assert (
            await client.put("/api/v1/dids/15559000001/forwards", headers=h, json=forwards)
        ).status_code == 204
        # Wazo's names (noanswer, unconditional) are taken; the answer has ours, as GET /dids has.
        # A body without after_hours (clients from before it) leaves it as it is: off.
        assert (await client.get("/api/v1/dids/15559000001/forwards", headers=h)).json() == {
            "busy": forwards["busy"],
            "no_answer": forwards["noanswer"],
            "unavailable": forwards["unavailable"],
            "always": forwards["unconditional"],
            "after_hours": {"enabled": False, "destination": None},
            "enabled": True,
            "timeout": 20,
            "caller_id": "did",
        }
        both = await client.put(
            "/api/v1/dids/15559000001/forwards",
            headers=h,
            json={**forwards, "no_answer": forwards["noanswer"]},
        )
        assert api_error(both, 422)["message"] == "noanswer: no_answer is given too (send one of them)"
        unknown = await client.get("/api/v1/dids/15559000001/forwards/noanswr", headers=h)
        assert api_error(unknown, 404)["message"] == (
            "forward noanswr not found: the forwards are busy, no_answer, unavailable, always, after_hours"
        )
        one = await client.put(
            "/api/v1/dids/15559000001/forwards/busy",
            headers=h,
            json={"enabled": True, "destination": "endpoint:desk-9"},
        )
        assert one.status_code == 204
        assert (await client.get("/api/v1/dids/15559000001/forwards/busy", headers=h)).json() == {
            "enabled": True,
            "destination": "endpoint:desk-9",
        }
        shown = (await client.get("/api/v1/dids/15559000001", headers=h)).json()
        assert (shown["primary"], shown["transfer"]) == ("endpoint:desk", "on")
        patched = await client.patch(
            "/api/v1/dids/15559000001", headers=h, json={"ring_timeout": 25, "active": False}
        )
        assert (patched.json()["ring_timeout"], patched.json()["status"]) == (25, "inactive")
        changes = (await client.get("/api/v1/changes", headers=h, params={"did": "15559000001"})).json()[
            "items"
        ]
        assert {c["actor"] for c in changes} == {"api:root"}
        assert (await client.delete("/api/v1/dids/15559000001", headers=h)).status_code == 204
        assert api_error(await client.get("/api/v1/dids/15559000001", headers=h), 404)


async def test_a_phone_number_typed_with_dashes_through_the_api_is_stored_normalised(site: Site) -> None:
    """A DID and a forward written as people write phone numbers come back as digits."""
    async with site.client() as client:
        h = await api_token(client, "root")
        made = await client.post(
            "/api/v1/dids",
            headers=h,
            json={"did": "+1 555-900-0002", "account": "1001", "primary": "endpoint:d"},
        )
        assert made.status_code == 201 and made.json()["did"] == "15559000002"
        put = await client.put(
            "/api/v1/dids/15559000002/forwards/busy",
            headers=h,
            json={"enabled": True, "destination": "pstn:+33 6.12.34.56.78"},
        )
        assert put.status_code == 204, put.text
        busy = (await client.get("/api/v1/dids/15559000002/forwards/busy", headers=h)).json()
        assert busy == {"enabled": True, "destination": "pstn:+33612345678"}


async def test_refused_requests_get_their_status_field_and_the_clis_message(site: Site) -> None:
    """409, 422 (bad value, unknown field, a string for a boolean, enabled without destination), 400."""
    async with site.client() as client:
        h = await api_token(client, "root")
        before = dump(site.database_url)
        duplicate = await client.post(
            "/api/v1/dids", headers=h, json={"did": "15550001", "account": "1001", "primary": "endpoint:x"}
        )
        assert "already exists" in api_error(duplicate, 409)["message"]
        bad = await client.post(
            "/api/v1/dids", headers=h, json={"did": "15550009", "account": "1001", "primary": "pstn:12&3"}
        )
        assert api_error(bad, 422)["field"] == "primary"
        typo = await client.patch("/api/v1/dids/15550001", headers=h, json={"actve": False})
        assert api_error(typo, 422) == {"message": "actve: unknown field", "field": "actve"}
        stringly = await client.patch("/api/v1/dids/15550001", headers=h, json={"active": "false"})
        assert api_error(stringly, 422) == {"message": "active: must be a boolean", "field": "active"}
        number = await client.patch("/api/v1/dids/15550001", headers=h, json={"ring_timeout": True})
        assert api_error(number, 422)["field"] == "ring_timeout"
        empty = await client.put(
            "/api/v1/dids/15550001/forwards/busy", headers=h, json={"enabled": True, "destination": None}
        )
        assert api_error(empty, 422)["field"] == "busy"
        inject = await client.put(
            "/api/v1/dids/15550001/forwards/noanswer",
            headers=h,
            json={"enabled": True, "destination": "sip:a@b.example.com,1"},
        )
        assert api_error(inject, 422)["message"].startswith("no_answer.destination item 2:")
        assert api_error(inject, 422)["field"] == "no_answer"
        broken = await client.post(
            "/api/v1/dids", headers={**h, "content-type": "application/json"}, content=b"{not json"
        )
        assert api_error(broken, 400)["message"] == "body: not valid JSON"
        assert dump(site.database_url) == before


async def test_a_reseller_token_reaches_nothing_outside_its_customers(site: Site) -> None:
    """Every foreign object at every endpoint is 404, exactly as if absent; nothing changes."""
    async with site.client() as client:
        h = await api_token(client, "res-a")
        before = dump(site.database_url)
        for method, path, body in (
            ("GET", "/api/v1/dids/15550002", None),
            ("PATCH", "/api/v1/dids/15550002", {"active": False}),
            ("DELETE", "/api/v1/dids/15550002", None),
            ("GET", "/api/v1/dids/15550002/forwards", None),
            (
                "PUT",
                "/api/v1/dids/15550002/forwards/busy",
                {"enabled": True, "destination": "endpoint:mallory"},
            ),
            ("GET", "/api/v1/accounts/2001", None),
            ("PATCH", "/api/v1/accounts/2001", {"transfer": False}),
            ("PATCH", "/api/v1/accounts/200", {"active": False}),
            ("POST", "/api/v1/dids", {"did": "15550077", "account": "2001", "primary": "endpoint:x"}),
            ("GET", "/api/v1/calls?account=2001", None),
            ("GET", "/api/v1/changes?account=2001", None),
        ):
            response = await client.request(method, path, headers=h, json=body)
            api_error(response, 404)
        assert dump(site.database_url) == before
        listed = (await client.get("/api/v1/accounts", headers=h)).json()["items"]
        assert [a["number"] for a in listed] == ["1001"]
        assert [d["did"] for d in (await client.get("/api/v1/dids", headers=h)).json()["items"]] == [
            "15550001"
        ]


async def test_a_customer_may_change_only_the_forwards_of_its_dids(site: Site) -> None:
    """403 for a DID or account change, 204 for its own forwards, 404 for another's DID."""
    async with site.client() as client:
        h = await api_token(client, "cust-a1")
        before = dump(site.database_url)
        assert api_error(
            await client.patch("/api/v1/dids/15550001", headers=h, json={"primary": "endpoint:x"}), 403
        )
        assert api_error(
            await client.patch("/api/v1/accounts/1001", headers=h, json={"transfer": False}), 403
        )
        assert api_error(
            await client.post(
                "/api/v1/dids",
                headers=h,
                json={"did": "15550077", "account": "1001", "primary": "endpoint:x"},
            ),
            403,
        )
        assert api_error(await client.get("/api/v1/dids/15550002/forwards", headers=h), 404)
        assert dump(site.database_url) == before
        done = await client.put(
            "/api/v1/dids/15550001/forwards/unconditional",
            headers=h,
            json={"enabled": True, "destination": "pstn:+4930111"},
        )
        assert done.status_code == 204


async def test_token_logins_are_throttled_and_the_description_covers_every_route(site: Site) -> None:
    """Five failures, then 429 with Retry-After; /openapi.json is 3.1 and describes each route."""
    async with site.client() as client:
        for _ in range(5):
            api_error(
                await client.post("/api/v1/tokens", json={"username": "root", "password": "wrong password!"}),
                401,
            )
        throttled = await client.post("/api/v1/tokens", json={"username": "root", "password": PASSWORD})
        assert api_error(throttled, 429) and int(throttled.headers["retry-after"]) > 0
        spec = (await client.get("/api/v1/openapi.json")).json()
        health = (await client.get("/api/v1/health")).json()
    from did_failover.web.api import router

    assert spec["openapi"] == "3.1.0" and health["status"] == "ok"
    for route in router().routes:
        described = spec["paths"][route.path]
        assert {m.lower() for m in route.methods or ()} - {"head"} <= set(described), route.path


async def test_forward_lists_after_hours_and_the_schedule_over_the_api(site: Site) -> None:
    """A forward list, the afterhours forward and the schedule are set and read back in the CLI's
    syntax; a bad list, schedule or ring total is refused with 422 naming the field; null removes."""
    async with site.client() as client:
        h = await api_token(client, "root")
        busy = "pstn:+15557654321/20,sip:office@pbx.example.com,voicemail:100"
        put = await client.put(
            "/api/v1/dids/15550001/forwards/busy", headers=h, json={"enabled": True, "destination": busy}
        )
        assert put.status_code == 204
        after = await client.put(
            "/api/v1/dids/15550001/forwards/afterhours",
            headers=h,
            json={"enabled": True, "destination": "pstn:+15559990000"},
        )
        assert after.status_code == 204
        hours = "Europe/Paris;mon-fri  09:00-18:00;closed 2026-12-25"
        assert (
            await client.put("/api/v1/dids/15550001/schedule", headers=h, json={"schedule": hours})
        ).status_code == 204
        forwards = (await client.get("/api/v1/dids/15550001/forwards", headers=h)).json()
        assert forwards["busy"] == {"enabled": True, "destination": busy}
        assert forwards["after_hours"] == {"enabled": True, "destination": "pstn:+15559990000"}
        assert (await client.get("/api/v1/dids/15550001/schedule", headers=h)).json() == {
            "schedule": "Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25"
        }
        before = dump(site.database_url)
        refusals = [
            ("forwards/busy", {"enabled": True, "destination": "voicemail:100,pstn:+15557654321"}, "busy"),
            ("forwards/after_hours", {"enabled": True, "destination": "pstn:+1555/20x"}, "after_hours"),
            (
                "forwards/unconditional",
                {"enabled": True, "destination": "pstn:+15557654321/301"},
                "always",
            ),
            ("schedule", {"schedule": "Mars/Olympus; mon 09:00-17:00"}, "schedule"),
            ("schedule", {"schedule": 7}, "schedule"),
        ]
        for path, payload, field in refusals:
            refused = await client.put(f"/api/v1/dids/15550001/{path}", headers=h, json=payload)
            assert api_error(refused, 422)["field"] == field, refused.text
        ring = await client.put(
            "/api/v1/dids/15550001/forwards/unconditional",
            headers=h,
            json={"enabled": True, "destination": "pstn:+15557654321/150,pstn:+15557654322/150"},
        )
        assert "a caller could ring 300 s through the always list" in api_error(ring, 422)["message"]
        assert dump(site.database_url) == before
        assert (
            await client.put("/api/v1/dids/15550001/schedule", headers=h, json={"schedule": None})
        ).status_code == 204
        assert (await client.get("/api/v1/dids/15550001/schedule", headers=h)).json() == {"schedule": None}


async def test_dids_are_paged_by_cursor_and_deep_offsets_are_refused(site: Site) -> None:
    """`next` and `previous` cursors walk every DID once each way, `last=true` starts at the end; an
    offset past 10,000, a cursor of another order or none of ours, two page edges at once, and a
    `last` that is no boolean are refused with the field named."""
    async with site.client() as client:
        h = await api_token(client, "root")
        for i in range(5):
            made = {"did": f"1555700000{i}", "account": "1001", "primary": "endpoint:d"}
            assert (await client.post("/api/v1/dids", headers=h, json=made)).status_code == 201
        everything = (await client.get("/api/v1/dids", headers=h, params={"order": "account"})).json()
        expected = [d["did"] for d in everything["items"]]
        assert everything["next"] is None and everything["previous"] is None and everything["total_exact"]
        page = (await client.get("/api/v1/dids", headers=h, params={"order": "account", "limit": 2})).json()
        forward = [d["did"] for d in page["items"]]
        while page["next"]:
            params = {"order": "account", "limit": 2, "after": page["next"]}
            page = (await client.get("/api/v1/dids", headers=h, params=params)).json()
            forward += [d["did"] for d in page["items"]]
        params = {"order": "account", "limit": 2, "last": "true"}
        page = (await client.get("/api/v1/dids", headers=h, params=params)).json()
        backward = [d["did"] for d in page["items"]]
        while page["previous"]:
            params = {"order": "account", "limit": 2, "before": page["previous"]}
            page = (await client.get("/api/v1/dids", headers=h, params=params)).json()
            backward = [d["did"] for d in page["items"]] + backward
        assert forward == expected == backward and len(expected) == everything["total"] == 7
        cursor = (await client.get("/api/v1/dids", headers=h, params={"limit": 1})).json()["next"]
        for params, field in (
            ({"offset": "10001"}, "offset"),
            ({"after": cursor, "order": "busy"}, "after"),
            ({"before": "bm90IG91cnM"}, "before"),
            ({"after": cursor, "last": "true"}, "last"),
            ({"after": cursor, "offset": "5"}, "after"),
            ({"last": "yes"}, "last"),
        ):
            refused = api_error(await client.get("/api/v1/dids", headers=h, params=params), 422)
            assert refused["field"] == field and refused["message"].startswith(f"{field}: "), (
                params,
                refused,
            )
