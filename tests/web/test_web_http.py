"""The web page over real HTTP: logins, sessions, CSRF, headers, scope, escaping, the forms."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from did_failover.admin.service import ADMIN, Service
from did_failover.admin.users import Users
from did_failover.storage import open_repository
from tests.plugins.web import PASSWORD, Site, StartSite, csrf_of, login_token
from tests.support.db import dump, execute
from tests.web.conftest import world


async def _view(url: str, did: str) -> dict[str, object]:
    async with open_repository(url, 5.0) as repo:
        return (await Service(repo).show_transfer(ADMIN, did)).as_dict()


async def test_login_flow_cookie_and_headers(site: Site) -> None:
    """/ goes to /login; a wrong password is refused; a right one opens the DIDs page with a new
    HttpOnly SameSite=Strict session cookie; every response carries the security headers."""
    async with site.client() as client:
        home = await client.get("/")
        assert (home.status_code, home.headers["location"]) == (303, "/login")
        token = await login_token(client)
        wrong = await client.post(
            "/login", data={"csrf": token, "username": "root", "password": "not the password!"}
        )
        assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
        nobody = await client.post("/login", data={"csrf": token, "username": "nobody", "password": PASSWORD})
        assert nobody.status_code == 401 and "Wrong username or password." in nobody.text
        good = await client.post("/login", data={"csrf": token, "username": "root", "password": PASSWORD})
        assert (good.status_code, good.headers["location"]) == (303, "/dids")
        cookie = good.headers["set-cookie"]
        assert (
            cookie.startswith("did_failover_session=")
            and "HttpOnly" in cookie
            and "SameSite=strict" in cookie
        )
        page = await client.get("/dids")
        assert page.status_code == 200 and "<h1>DIDs Call Transfer</h1>" in page.text
        for response in (home, wrong, good, page, await client.get("/static/style.css")):
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"


async def test_a_phone_number_typed_with_blanks_on_the_page_is_stored_and_shown_normalised(
    site: Site,
) -> None:
    """`06 12 34 56 78` as a PSTN destination is saved as 0612345678 and shown so on the page again."""
    async with contextlib.aclosing(await site.login("root")) as client:
        token = csrf_of((await client.get("/dids/15550001")).text)
        form = {
            "csrf": token,
            "busy_type": "pstn",
            "busy_destination": "06 12 34 56 78",
            "timeout": "25",
            "caller_id": "keep",
            "enabled": "on",
        }
        saved = await client.post("/dids/15550001", data=form)
        assert saved.status_code == 303, saved.text
        assert (await _view(site.database_url, "15550001"))["busy"] == "pstn:0612345678"
        assert 'value="0612345678"' in (await client.get("/dids/15550001")).text


async def test_an_admin_sets_a_busy_destination_and_a_refused_one_changes_nothing(site: Site) -> None:
    """Save on the DID page stores it (actor web:root); a bad value comes back next to its field,
    tied with aria-describedby, with what was typed, and nothing is stored."""
    async with contextlib.aclosing(await site.login("root")) as client:
        page = await client.get("/dids/15550001")
        token = csrf_of(page.text)
        form = {
            "csrf": token,
            "busy_type": "sip",
            "busy_destination": "desk@pbx.example.com",
            "no_answer_type": "pstn",
            "no_answer_destination": "+4930555",
            "unavailable_type": "none",
            "unavailable_destination": "",
            "always_type": "none",
            "always_destination": "",
            "timeout": "25",
            "caller_id": "did",
            "enabled": "on",
        }
        saved = await client.post("/dids/15550001", data=form)
        assert (saved.status_code, saved.headers["location"]) == (303, "/dids/15550001?saved=1")
        view = await _view(site.database_url, "15550001")
        assert (view["busy"], view["no_answer"], view["timeout"], view["caller_id"]) == (
            "sip:desk@pbx.example.com",
            "pstn:+4930555",
            25,
            "did",
        )
        before = dump(site.database_url)
        refused = await client.post(
            "/dids/15550001", data={**form, "busy_type": "pstn", "busy_destination": "12&3"}
        )
        assert refused.status_code == 400
        assert 'aria-describedby="busy-error"' in refused.text and 'id="busy-error"' in refused.text
        assert "Busy destination: &#39;pstn:12&amp;3&#39; is not a valid PSTN number" in refused.text
        assert 'value="12&amp;3"' in refused.text and "--busy" not in refused.text
        assert dump(site.database_url) == before
        shown = await client.get("/dids/15550001")
        assert "web:root" in shown.text and "transfer.busy" in shown.text  # its recent changes


async def test_the_status_switch_and_the_account_switch(site: Site) -> None:
    """The per-DID switch turns transfer off; the account-level one shows as `off (account)`."""
    async with contextlib.aclosing(await site.login("root")) as client:
        token = csrf_of((await client.get("/dids")).text)
        off = await client.post(
            "/dids/15550001/switch", data={"csrf": token, "enabled": "off", "back": "/dids"}
        )
        assert off.status_code == 303
        assert (await _view(site.database_url, "15550001"))["transfer"] == "off"
        await client.post("/dids/15550001/switch", data={"csrf": token, "enabled": "on", "back": "/dids"})
        account = await client.post("/accounts/1001", data={"csrf": token, "transfer": "off"})
        assert (account.status_code, account.headers["location"]) == (303, "/accounts")
        assert "off (account)" in (await client.get("/dids?search=15550001")).text
        assert (await _view(site.database_url, "15550001"))["status"] == "off (account)"


async def test_a_reseller_sees_only_its_own_and_gets_404_on_the_rest(site: Site) -> None:
    """Reseller A: its DID only; another reseller's DID and account are 404 on GET and POST alike,
    and nothing changes."""
    async with contextlib.aclosing(await site.login("res-a")) as client:
        page = await client.get("/dids")
        assert "15550001" in page.text and "15550002" not in page.text
        token = csrf_of(page.text)
        before = dump(site.database_url)
        for response in (
            await client.get("/dids/15550002"),
            await client.post(
                "/dids/15550002", data={"csrf": token, "busy_type": "pstn", "busy_destination": "123456"}
            ),
            await client.post("/dids/15550002/switch", data={"csrf": token, "enabled": "off"}),
            await client.post("/accounts/2001", data={"csrf": token, "transfer": "off"}),
            await client.post("/accounts/200", data={"csrf": token, "active": "off"}),
        ):
            assert response.status_code == 404, response.url
        assert dump(site.database_url) == before
        accounts = await client.get("/accounts")
        assert "1001" in accounts.text and "2001" not in accounts.text


async def test_a_customer_sees_only_its_dids_and_has_no_account_switch(site: Site) -> None:
    """Customer A1: its DID, no accounts page, no account switch by hand; its transfer settings it may set."""
    async with contextlib.aclosing(await site.login("cust-a1")) as client:
        page = await client.get("/dids")
        assert "15550001" in page.text and "15550002" not in page.text and 'href="/accounts"' not in page.text
        token = csrf_of(page.text)
        before = dump(site.database_url)
        assert (await client.get("/accounts")).status_code == 404
        assert (
            await client.post("/accounts/1001", data={"csrf": token, "transfer": "off"})
        ).status_code == 404
        assert (await client.get("/dids/15550002")).status_code == 404
        assert dump(site.database_url) == before
        off = await client.post(
            "/dids/15550001/switch", data={"csrf": token, "enabled": "off", "back": "/dids"}
        )
        assert off.status_code == 303
        assert (await _view(site.database_url, "15550001"))["transfer"] == "off"


async def test_logout_deactivation_and_idle_time_end_the_session(
    repo_url: str, start_site: StartSite
) -> None:
    """After logout the old cookie is refused; so is the cookie of a user deactivated meanwhile, and
    one idle past DID_FAILOVER_WEB_SESSION_IDLE."""
    await world(repo_url)
    site = await start_site(repo_url, web_session_idle="600")
    async with contextlib.aclosing(await site.login("root")) as client:
        token = csrf_of((await client.get("/dids")).text)
        old = dict(client.cookies)
        assert (await client.post("/logout", data={"csrf": token})).headers["location"] == "/login"
        async with site.client() as replay:
            replay.cookies.update(old)
            assert (await replay.get("/dids")).headers["location"] == "/login"
    async with contextlib.aclosing(await site.login("res-a")) as deactivated:
        async with open_repository(repo_url, 5.0) as repo:
            await Users(repo).set_user(ADMIN, "res-a", active=False)
        assert (await deactivated.get("/dids")).headers["location"] == "/login"
    async with contextlib.aclosing(await site.login("res-b")) as idle:
        assert (await idle.get("/dids")).status_code == 200
        # last used 11 minutes ago, idle limit 10 minutes (rather than waiting it out)
        execute(repo_url, "UPDATE web_sessions SET last_seen_at = ?", (_ago(660),))
        assert (await idle.get("/dids")).headers["location"] == "/login"
    assert execute(repo_url, "SELECT COUNT(*) FROM web_sessions") == [(0,)]


def _ago(seconds: int) -> str:
    """A UTC timestamp `seconds` ago, as both back ends take it in a parameter."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


async def test_a_forged_post_without_the_token_is_403_and_changes_nothing(site: Site) -> None:
    """A logged-in browser tricked into posting: no token, or a wrong one, is 403; the login form too."""
    async with contextlib.aclosing(await site.login("root")) as client:
        before = dump(site.database_url)
        for data in ({"enabled": "off"}, {"enabled": "off", "csrf": "x" * 43}):
            assert (await client.post("/dids/15550001/switch", data=data)).status_code == 403
        assert (await client.post("/logout")).status_code == 403
        assert dump(site.database_url) == before
    async with site.client() as stranger:
        refused = await stranger.post("/login", data={"username": "root", "password": PASSWORD})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers


async def test_html_in_a_name_is_shown_as_text(site: Site) -> None:
    """An account name and a caller ID full of HTML come out escaped."""
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    execute(site.database_url, "UPDATE accounts SET name = ? WHERE number = '1001'", (evil,))
    execute(
        site.database_url,
        "INSERT INTO call_log (started_at, did, account_number, caller, result) VALUES (?, ?, ?, ?, ?)",
        ("2026-12-01 10:00:00", "15550001", "1001", evil[:80], "ANSWERED"),
    )
    async with contextlib.aclosing(await site.login("root")) as client:
        for path in ("/accounts", "/dids/15550001"):
            page = await client.get(path)
            assert "<script>" not in page.text and "<img" not in page.text, path
            assert "&lt;script&gt;" in page.text


async def test_failed_logins_are_throttled_per_username(site: Site) -> None:
    """After 5 failures in a minute the username gets 429 with Retry-After, even with the right password."""
    async with site.client() as client:
        token = await login_token(client)
        for _ in range(5):
            response = await client.post(
                "/login", data={"csrf": token, "username": "root", "password": "wrong password!!"}
            )
            assert response.status_code == 401
        throttled = await client.post(
            "/login", data={"csrf": token, "username": "root", "password": PASSWORD}
        )
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        assert "Too many failed logins" in throttled.text
    other = await site.login("res-a")  # another username is not held back
    await other.aclose()


async def test_search_sort_and_pages(repo_url: str, start_site: StartSite) -> None:
    """120 DIDs: pages of 50, a search on part of the number, the order reversed by the column link."""
    await world(repo_url)
    async with open_repository(repo_url, 5.0) as repo:
        service = Service(repo)
        for i in range(120):
            await service.add_did(ADMIN, f"1666000{i:04d}", "1001", "endpoint:desk")
    site = await start_site(repo_url)
    async with contextlib.aclosing(await site.login("root")) as client:
        first = await client.get("/dids")
        assert "122 DIDs, page 1 of 3" in first.text and first.text.count('<a href="/dids/') == 50
        found = await client.get("/dids", params={"search": "166600001"})
        assert found.text.count('<a href="/dids/') == 20  # 16660000100..16660000119
        by_account = await client.get("/dids", params={"search": "2001"})
        assert by_account.text.count('<a href="/dids/') == 1  # 15550002, of account 2001
        reverse = await client.get("/dids", params={"order": "did", "direction": "desc"})
        assert reverse.text.index("16660000119") < reverse.text.index("16660000118")
        last = await client.get("/dids", params={"page": "3"})
        assert last.text.count('<a href="/dids/') == 22 and 'rel="prev"' in last.text
        assert (await client.get("/dids", params={"order": "1; DROP TABLE dids"})).status_code == 200

        def link(page: httpx.Response, name: str) -> str | None:
            found = re.search(rf'<a href="(/dids\?[^"]*)"[^>]*>{name}</a>', page.text)
            return html.unescape(found.group(1)) if found else None

        def shown(page: httpx.Response) -> list[str]:
            return re.findall(r'<a href="/dids/(\d+)">', page.text)

        # Next by cursor to the end, then Previous back to the start: every DID once, in order.
        forward, page = shown(first), first
        while (following := link(page, "Next")) is not None:
            page = await client.get(following)
            forward += shown(page)
        assert "page 3 of 3" in page.text and link(page, "Last") is None
        page = await client.get(link(first, "Last") or "")
        assert "page 3 of 3" in page.text and shown(page) == forward[-50:]
        backward = shown(page)
        while (preceding := link(page, "Previous")) is not None:
            page = await client.get(preceding)
            backward = shown(page) + backward
        assert forward == sorted(forward) == backward and len(forward) == 122
        assert "page 1 of 3" in page.text and link(page, "First") is None
        assert (await client.get("/dids", params={"after": "not-a-cursor"})).status_code == 400


def test_a_reseller_or_customer_user_cannot_lose_its_account_by_hand(sqlite_url: str, mysql_url: str) -> None:
    """A CHECK constraint: a non-admin user without an account would otherwise fall back to the
    admin's scope; the database refuses to make one."""
    for url in (sqlite_url, mysql_url):
        asyncio.run(world(url))
        with pytest.raises(Exception, match=r"(?i)constraint|check"):
            execute(url, "UPDATE users SET account_id = NULL WHERE username = 'res-a'")
        assert execute(url, "SELECT COUNT(*) FROM users WHERE account_id IS NULL") == [(1,)]  # root only


async def test_behind_https_the_cookies_are_host_prefixed_and_secure(
    repo_url: str, start_site: StartSite
) -> None:
    """Behind a TLS proxy named in DID_FAILOVER_WEB_TRUSTED_PROXIES (X-Forwarded-Proto: https from
    127.0.0.1) the cookies are `__Host-`, Secure, HttpOnly, SameSite=Strict, HSTS is sent, each login
    issues a new session, and the deletions at login and logout carry Secure too (browsers ignore a
    `__Host-` deletion without it)."""
    await world(repo_url)
    site = await start_site(repo_url, web_trusted_proxies="127.0.0.1")
    issued = []
    for _ in range(2):
        # httpx keeps Secure cookies for https:// only: this client hands them back by hand.
        async with httpx.AsyncClient(base_url=site.url, headers={"x-forwarded-proto": "https"}) as client:
            page = await client.get("/login")
            assert page.headers["strict-transport-security"] == "max-age=31536000"
            pre = page.headers["set-cookie"]
            assert pre.startswith("__Host-did_failover_login=") and "Secure" in pre and "HttpOnly" in pre
            client.cookies.set("__Host-did_failover_login", pre.split(";")[0].split("=", 1)[1])
            data = {"csrf": csrf_of(page.text), "username": "root", "password": PASSWORD}
            done = await client.post("/login", data=data)
            cookies = done.headers.get_list("set-cookie")
            cookie = next(c for c in cookies if "did_failover_session" in c)
            assert cookie.startswith("__Host-did_failover_session=") and "Secure" in cookie
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            deleted = next(c for c in cookies if c.startswith("__Host-did_failover_login="))
            assert "Max-Age=0" in deleted and "Secure" in deleted
            issued.append(cookie.split(";")[0])
            client.cookies.set("__Host-did_failover_session", cookie.split(";")[0].split("=", 1)[1])
            listing = await client.get("/dids")
            out = await client.post("/logout", data={"csrf": csrf_of(listing.text)})
            gone = next(c for c in out.headers.get_list("set-cookie") if "did_failover_session" in c)
            assert (
                gone.startswith("__Host-did_failover_session=") and "Max-Age=0" in gone and "Secure" in gone
            )
    assert issued[0] != issued[1]
    assert execute(site.database_url, "SELECT COUNT(*) FROM web_sessions") == [(0,)]


async def test_forwarded_headers_from_a_proxy_not_named_are_ignored(site: Site) -> None:
    """With no trusted proxy (the default) X-Forwarded-Proto and X-Forwarded-For change nothing: no
    `__Host-` cookie, no HSTS, and a made-up client address gets no throttle bucket of its own."""
    async with httpx.AsyncClient(base_url=site.url, headers={"x-forwarded-proto": "https"}) as client:
        page = await client.get("/login")
        assert page.headers["set-cookie"].startswith("did_failover_login=")
        assert "strict-transport-security" not in page.headers
    async with site.client() as client:
        for number in range(21):
            spoofed = {"x-forwarded-for": f"198.51.100.{number}"}
            answer = await client.post(
                "/api/v1/tokens", json={"username": f"nobody{number}", "password": "wrong"}, headers=spoofed
            )
            assert answer.status_code == (401 if number < 20 else 429), (number, answer.text)


async def test_forward_lists_after_hours_and_business_hours_from_the_did_page(site: Site) -> None:
    """A step per row (type, destination, ring seconds) makes a forward list; the page shows its
    steps and one empty row; business hours and the after-hours list are saved; a refused list or
    schedule comes back next to its field and nothing is stored."""
    async with contextlib.aclosing(await site.login("root")) as client:
        token = csrf_of((await client.get("/dids/15550001")).text)
        form = {
            "csrf": token,
            "busy_type": "pstn",
            "busy_destination": "+15557654321",
            "busy_timeout": "20",
            "busy_2_type": "sip",
            "busy_2_destination": "office@pbx.example.com",
            "busy_3_type": "voicemail",
            "busy_3_destination": "100",
            "after_hours_type": "pstn",
            "after_hours_destination": "+15559990000",
            "schedule": "Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25",
            "timeout": "25",
            "caller_id": "keep",
            "enabled": "on",
        }
        saved = await client.post("/dids/15550001", data=form)
        assert saved.status_code == 303
        view = await _view(site.database_url, "15550001")
        assert (view["busy"], view["after_hours"], view["schedule"]) == (
            "pstn:+15557654321/20,sip:office@pbx.example.com,voicemail:100",
            "pstn:+15559990000",
            "Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25",
        )
        page = (await client.get("/dids/15550001")).text
        assert 'name="busy_3_destination" value="100"' in page and 'name="busy_4_type"' in page
        assert 'name="busy_5_type"' not in page  # one empty row, not five
        assert 'name="busy_timeout" inputmode="numeric" size="4" value="20"' in page
        assert ("open now" in page) != ("closed now" in page)
        before = dump(site.database_url)
        cases = [
            (
                {"busy_2_type": "voicemail", "busy_2_destination": "100"},
                "busy",
                "Busy step 2 destination: voicemail is a final step",
            ),
            (
                {"schedule": "Europe/Paris; mon-fri 9-18"},
                "schedule",
                "Business hours: &#39;mon-fri 9-18&#39;",
            ),
            (
                {"busy_destination": "123&PJSIP/evil"},
                "busy",
                "Busy destination: &#39;pstn:123&amp;PJSIP/evil&#39;",
            ),
            (
                {"busy_2_type": "pstn", "busy_2_destination": "+49301", "busy_2_timeout": "abc"},
                "busy",
                "Busy step 2 ring seconds: must be 1..300",
            ),
            ({"timeout": "soon"}, "timeout", "Transfer timeout: must be a whole number of seconds"),
            ({"busy_timeout": "150", "busy_2_timeout": "100"}, "", "a caller could ring"),
        ]
        for changes, field, message in cases:
            refused = await client.post("/dids/15550001", data={**form, **changes})
            assert refused.status_code == 400 and message in refused.text, refused.text[:2000]
            if field:
                assert f'id="{field}-error"' in refused.text
        assert dump(site.database_url) == before
        cleared = await client.post(
            "/dids/15550001",
            data={
                **form,
                "busy_2_type": "none",
                "busy_3_type": "none",
                "schedule": "",
                "after_hours_type": "none",
            },
        )
        assert cleared.status_code == 303
        view = await _view(site.database_url, "15550001")
        assert (view["busy"], view["after_hours"], view["schedule"]) == ("pstn:+15557654321/20", None, None)


async def test_two_web_processes_behind_a_load_balancer_share_every_session(
    mysql_url: str, start_site: StartSite
) -> None:
    """Two `did-failover web` processes on one database, requests alternating between them as a
    load balancer without sticky sessions sends them: a login form from one posts to the other, the
    session and its CSRF token work on both, a save through one shows on the other, an API token
    from one works on the other, and a logout on one ends the session on both."""
    await world(mysql_url)
    one, two = await start_site(mysql_url), await start_site(mysql_url)
    async with one.client() as client:
        form = {"csrf": await login_token(client), "username": "root", "password": PASSWORD}
        login = await client.post(f"{two.url}/login", data=form)
        assert (login.status_code, login.headers["location"]) == (303, "/dids")
        assert (await client.get("/dids")).status_code == 200
        token = csrf_of((await client.get(f"{two.url}/dids/15550001")).text)
        switched = await client.post(
            "/dids/15550001/switch", data={"csrf": token, "enabled": "off", "back": "/dids"}
        )
        assert switched.status_code == 303
        assert (await _view(mysql_url, "15550001"))["transfer"] == "off"
        assert "web:root" in (await client.get(f"{two.url}/dids/15550001")).text
        issued = await client.post("/api/v1/tokens", json={"username": "res-a", "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {issued.json()['token']}"}
        assert (await client.get(f"{two.url}/api/v1/dids", headers=bearer)).json()["total"] == 1
        assert (await client.post("/logout", data={"csrf": token})).headers["location"] == "/login"
        assert (await client.get(f"{two.url}/dids")).headers["location"] == "/login"
    assert execute(mysql_url, "SELECT COUNT(*) FROM web_sessions") == [(0,)]
