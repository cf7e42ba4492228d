"""Every page's path, query and form fields with arbitrary text, on both back ends, as the admin and
as a customer: no answer is a 5xx (the API has schemathesis; the pages have this)."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.web import PASSWORD, Site, log_in

_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "²", "٣", "9223372036854775808", "15550001", "abc", "bad!", "1" * 5000]),
    st.from_regex(r"[0-9]{1,25}", fullmatch=True),
)
_CURSOR = st.one_of(
    _TEXT,
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30), st.lists, max_leaves=5
    ).map(lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")),
    st.tuples(st.sampled_from(["did", "busy", "account"]), st.text(max_size=70), st.text(max_size=25)).map(
        lambda value: base64.urlsafe_b64encode(json.dumps(list(value)).encode()).decode().rstrip("=")
    ),
)
"""A page cursor: text, any JSON in the cursor's encoding, or a well-formed one of any key."""
_FIELDS = [
    f"{key}{suffix}"
    for key in ("busy", "no_answer", "unavailable", "always", "after_hours")
    for step in ("", "_2", "_5", "_6")
    for suffix in (f"{step}_type", f"{step}_destination", f"{step}_timeout")
] + ["timeout", "caller_id", "enabled", "schedule"]


def _fuzz(url: str) -> list[str]:
    """Arbitrary requests to every page; the 5xx answers, each as METHOD PATH."""
    failures: list[str] = []
    sessions = [log_in(url, "root"), log_in(url, "cust-a1")]

    def check(client: httpx.Client, method: str, path: str, **kwargs: object) -> None:
        try:
            status = client.request(method, path, **kwargs).status_code  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            # uvicorn drops the connection after a 500: reported as a failure here (with the 500
            # before it), not raised, so that Hypothesis shows the request and not a flaky error
            failures.append(f"{method} {path} {kwargs} -> connection dropped: {exc}")
            return
        if status >= 500:
            failures.append(f"{method} {path} {kwargs} -> {status}")

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        who=st.integers(0, 1),
        segment=_TEXT,
        query=st.dictionaries(
            st.sampled_from(["search", "order", "direction", "page", "saved", "last"]), _TEXT
        )
        | st.fixed_dictionaries({}, optional={"after": _CURSOR, "before": _CURSOR, "order": _TEXT}),
        form=st.dictionaries(st.sampled_from(_FIELDS), _TEXT, max_size=12),
        switch=st.dictionaries(st.sampled_from(["enabled", "transfer", "active", "back"]), _TEXT),
        hook=st.dictionaries(st.sampled_from(["url", "events", "reseller"]), _TEXT),
    )
    def requests(
        who: int,
        segment: str,
        query: dict[str, str],
        form: dict[str, str],
        switch: dict[str, str],
        hook: dict[str, str],
    ) -> None:
        client, csrf = sessions[who]
        name = quote(segment, safe="") or "x"
        check(client, "GET", f"/dids/{name}", params=query)
        check(client, "GET", "/dids", params=query)
        check(client, "GET", "/accounts", params=query)
        check(client, "POST", f"/dids/{name}", data={"csrf": csrf, **form})
        check(client, "POST", "/dids/15550001", data={"csrf": csrf, **form})
        check(client, "POST", f"/dids/{name}/switch", data={"csrf": csrf, **switch})
        check(client, "POST", f"/accounts/{name}", data={"csrf": csrf, **switch})
        check(client, "POST", "/accounts/1001", data={"csrf": csrf, **switch})
        check(client, "GET", "/webhooks", params=query)
        check(client, "POST", "/webhooks", data={"csrf": csrf, **hook})
        check(
            client,
            "POST",
            f"/webhooks/{name}/{quote(hook.get('url', 'test'), safe='') or 'x'}",
            data={"csrf": csrf},
        )
        check(client, "POST", "/login", data={"csrf": segment, "username": segment, "password": segment})

    try:
        requests()
    finally:
        for client, _ in sessions:
            client.close()
    return failures


async def test_no_page_answers_5xx_to_any_path_query_or_form(site: Site) -> None:
    """Arbitrary DID and account path segments, listing queries, DID-form and switch fields, Webhooks
    forms and paths, and logins, as the admin and as a customer: every answer is below 500."""
    failures = await asyncio.to_thread(_fuzz, site.url)
    assert not failures, failures[:5]


async def test_the_inputs_that_answered_500_now_get_a_4xx_with_a_message(site: Site) -> None:
    """The cases found by hand: a DID path that is no number, page and limit of `²`, an offset past
    64 bits, a channel limit past 64 bits, `since=999999w`, and deeply nested JSON. And one the fuzz
    found: a webhook id of `²` (`isdigit` takes it, `int` does not)."""
    client, csrf = await asyncio.to_thread(log_in, site.url, "root")
    try:
        for method, path, data in (
            ("GET", "/dids/abc", None),
            ("POST", "/dids/abc/switch", {"csrf": csrf, "enabled": "off"}),
            ("POST", "/accounts/bad!", {"csrf": csrf, "transfer": "off"}),
            ("POST", "/webhooks/²/test", {"csrf": csrf}),
            ("POST", "/webhooks/²/remove", {"csrf": csrf}),
            ("POST", "/webhooks/1²/test", {"csrf": csrf}),
        ):
            page = await asyncio.to_thread(client.request, method, path, data=data)
            assert 400 <= page.status_code < 500 and "<h1>" in page.text, (path, page.status_code)
        listing = await asyncio.to_thread(client.get, "/dids", params={"page": "²"})
        assert listing.status_code == 200
    finally:
        client.close()
    async with site.client() as api:
        login = await api.post("/api/v1/tokens", json={"username": "root", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        for path, params in (
            ("/api/v1/dids", {"limit": "²"}),
            ("/api/v1/dids", {"offset": "²"}),
            ("/api/v1/dids", {"offset": "9223372036854775808"}),
            ("/api/v1/calls", {"since": "999999w"}),
            ("/api/v1/changes", {"since": "0001-01-01"}),
        ):
            answer = await api.get(path, params=params, headers=headers)
            assert answer.status_code in (200, 422), (path, params, answer.text)
            assert answer.status_code == 200 or answer.json()["error"]["message"]
        for method in ("GET", "DELETE"):
            answer = await api.request(method, "/api/v1/webhooks/²", headers=headers)
            assert answer.status_code in (404, 422) and answer.json()["error"]["message"], answer.text
        answer = await api.post("/api/v1/webhooks/²/test", headers=headers)
        assert answer.status_code in (404, 422) and answer.json()["error"]["message"], answer.text
        patched = await api.patch(
            "/api/v1/dids/15550001", json={"max_channels": 9223372036854775808}, headers=headers
        )
        assert patched.status_code == 422 and "max_channels" in patched.text
        nested = await api.patch(
            "/api/v1/dids/15550001", content=b"[" * 30_000 + b"]" * 30_000, headers=headers
        )
        assert nested.status_code == 400 and nested.json()["error"]["message"] == "body: nested too deeply"
        huge = await api.patch("/api/v1/dids/15550001", content=b"[" * 100_000, headers=headers)
        assert huge.status_code == 413 and "body: larger than 65536 bytes" in huge.text
