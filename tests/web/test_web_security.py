"""The holes found by attacking the web page and the API (issue 24), each closed and kept closed:
what a new password ends, trusted proxies, one throttle for every web process, usernames compared
exactly, bounded bodies, and the smaller header and cookie rules."""

from __future__ import annotations

import contextlib
import os

from redis.asyncio import Redis

from tests.plugins.redis import REDIS_PORT
from tests.plugins.web import PASSWORD, Site, StartSite, api_error, api_token, csrf_of
from tests.support.db import execute
from tests.support.net import free_port
from tests.support.ops import cli
from tests.web.conftest import world

NEW_PASSWORD = "a brand new passphrase 42"


async def _cli(site: Site, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    return await cli({**os.environ, "DID_FAILOVER_DATABASE_URL": site.database_url}, *args, stdin=stdin)


async def test_a_new_password_ends_its_login_tokens_and_names_the_long_lived_ones_it_keeps(
    site: Site,
) -> None:
    """A token taken with the old password stops working at `user set --password-stdin`; one made
    with `token add` keeps working and `user set` lists it, with the command that ends it."""
    async with site.client() as client:
        stolen = await api_token(client, "res-a")
        code, out, err = await _cli(site, "token", "add", "res-a", "--name", "billing")
        assert code == 0, err
        billing = {"Authorization": f"Bearer {out.splitlines()[-1]}"}
        code, out, err = await _cli(
            site, "user", "set", "res-a", "--password-stdin", stdin=NEW_PASSWORD + "\n"
        )
        assert code == 0, err
        assert "login tokens ended" in out and "1 long-lived API token" in out and "token remove" in out
        assert api_error(await client.get("/api/v1/dids", headers=stolen), 401)
        assert (await client.get("/api/v1/dids", headers=billing)).status_code == 200
        assert (
            await client.get("/api/v1/dids", headers=await api_token(client, "res-a", NEW_PASSWORD))
        ).status_code == 200
        code, _, err = await _cli(site, "token", "add", "res-a", "--name", "login")
        assert code == 2 and "--name: 'login'" in err


async def test_a_username_is_compared_exactly_and_one_breaking_the_rule_is_refused_first(site: Site) -> None:
    """`ROOT` and `Root` are not `root` (MariaDB's collation made them so); `root `, `röot`, a name of
    65 characters or of 60 KB are refused by the username rule before the throttle or the database
    sees them: 422 naming `username` on the API, 400 naming "Username" on the page, no failure counted."""
    async with site.client() as client:
        for spelling in ("ROOT", "Root"):
            answer = await client.post("/api/v1/tokens", json={"username": spelling, "password": PASSWORD})
            assert answer.status_code == 401, (spelling, answer.text)
        counted = execute(site.database_url, "SELECT COUNT(*) FROM login_failures")
        assert counted == [(4,)]  # two failures, each in a username and an address bucket
        for spelling in ("root ", "röot", "r" * 65, "x" * 60_000):
            answer = await client.post("/api/v1/tokens", json={"username": spelling, "password": PASSWORD})
            assert api_error(answer, 422)["field"] == "username", spelling[:10]
        assert execute(site.database_url, "SELECT COUNT(*) FROM login_failures") == counted
        page = await client.get("/login")
        data = {"csrf": csrf_of(page.text), "username": "röot", "password": PASSWORD}
        refused = await client.post("/login", data=data)
        assert refused.status_code == 400 and "Username: 1 to 64 letters" in refused.text
        assert execute(site.database_url, "SELECT COUNT(*) FROM login_failures") == counted


async def test_a_named_proxy_gives_the_client_as_its_right_most_untrusted_hop(
    repo_url: str, start_site: StartSite
) -> None:
    """Behind a proxy named in DID_FAILOVER_WEB_TRUSTED_PROXIES, the throttle counts the address the
    proxy appended: whatever a client writes in front of it, its 21st failure is 429, while another
    client behind the same proxy is not throttled."""
    await world(repo_url)
    site = await start_site(repo_url, web_trusted_proxies="127.0.0.0/8")
    async with site.client() as client:
        for number in range(20):
            spoofed = {"x-forwarded-for": f"198.51.100.{number}, 203.0.113.5"}
            answer = await client.post(
                "/api/v1/tokens", json={"username": f"nobody{number}", "password": "wrong"}, headers=spoofed
            )
            assert answer.status_code == 401, (number, answer.text)
        again = {"x-forwarded-for": "abc, 203.0.113.5"}
        throttled = await client.post(
            "/api/v1/tokens", json={"username": "x", "password": "y"}, headers=again
        )
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        other = {"x-forwarded-for": "203.0.113.6"}
        answer = await client.post(
            "/api/v1/tokens", json={"username": "root", "password": PASSWORD}, headers=other
        )
        assert answer.status_code == 201


async def test_two_web_processes_share_one_throttle_and_a_restart_keeps_it(
    repo_url: str, start_site: StartSite
) -> None:
    """Five wrong passwords for one user, alternating between two web processes on one database, and
    the next attempt on either is 429, the right password too; a third process started afterwards
    knows it as well."""
    await world(repo_url)
    first, second = await start_site(repo_url), await start_site(repo_url)
    for number in range(5):
        async with (first if number % 2 else second).client() as client:
            answer = await client.post("/api/v1/tokens", json={"username": "res-a", "password": "wrong one!"})
            assert answer.status_code == 401
    for site in (first, second, await start_site(repo_url)):
        async with site.client() as client:
            answer = await client.post("/api/v1/tokens", json={"username": "res-a", "password": PASSWORD})
            assert answer.status_code == 429, answer.text
            page = await client.get("/login")
            data = {"csrf": csrf_of(page.text), "username": "res-a", "password": PASSWORD}
            assert (await client.post("/login", data=data)).status_code == 429


async def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    repo_url: str, start_site: StartSite
) -> None:
    """A session used a moment ago but logged in longer ago than DID_FAILOVER_WEB_SESSION_LIFETIME
    is over: the next page is the login."""
    await world(repo_url)
    site = await start_site(repo_url, web_session_lifetime="3600")
    async with contextlib.aclosing(await site.login("root")) as client:
        assert (await client.get("/dids")).status_code == 200
        execute(site.database_url, "UPDATE web_sessions SET created_at = '2020-01-01 00:00:00'")
        gone = await client.get("/dids")
        assert gone.status_code == 303 and gone.headers["location"] == "/login"
        assert execute(site.database_url, "SELECT COUNT(*) FROM web_sessions") == [(0,)]


async def test_a_number_another_tenant_holds_is_taken_and_names_no_one(site: Site) -> None:
    """Reseller B adding reseller A's customer's DID: 409 that the number is taken, with no account
    number, name or owner of the other tenant in it."""
    async with site.client() as client:
        headers = await api_token(client, "res-b")
        answer = await client.post(
            "/api/v1/dids",
            json={"did": "15550001", "account": "2001", "primary": "endpoint:x"},
            headers=headers,
        )
        message = api_error(answer, 409)["message"]
        assert message == "DID 15550001 already exists"
        assert not any(word in message for word in ("1001", "100 ", "Customer", "Reseller", "res-a"))


async def test_with_redis_configured_the_throttle_counts_there_and_the_database_stands_in(
    repo_url: str, start_site: StartSite, redis_prefix: str
) -> None:
    """With DID_FAILOVER_REDIS_URL two web processes share the counts in Redis (none in the
    database); a web process whose Redis does not answer counts in the database and still throttles."""
    await world(repo_url)
    redis = {"redis_url": f"redis://127.0.0.1:{REDIS_PORT}/0", "redis_prefix": redis_prefix}
    first, second = await start_site(repo_url, **redis), await start_site(repo_url, **redis)
    for number in range(5):
        async with (first if number % 2 else second).client() as client:
            answer = await client.post("/api/v1/tokens", json={"username": "res-a", "password": "wrong one!"})
            assert answer.status_code == 401
    for site in (first, second):
        async with site.client() as client:
            answer = await client.post("/api/v1/tokens", json={"username": "res-a", "password": PASSWORD})
            assert answer.status_code == 429, answer.text
    assert execute(repo_url, "SELECT COUNT(*) FROM login_failures") == [(0,)]
    keys = Redis(port=REDIS_PORT)
    try:
        assert len([key async for key in keys.scan_iter(f"{redis_prefix}login:*")]) == 2
    finally:
        await keys.aclose()
    lost = await start_site(repo_url, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with lost.client() as client:
        for _ in range(5):
            answer = await client.post("/api/v1/tokens", json={"username": "res-b", "password": "wrong one!"})
            assert answer.status_code == 401
        answer = await client.post("/api/v1/tokens", json={"username": "res-b", "password": PASSWORD})
        assert answer.status_code == 429
    assert execute(repo_url, "SELECT COUNT(*) FROM login_failures") == [(10,)]
