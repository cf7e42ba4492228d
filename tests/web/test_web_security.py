"""The holes found by attacking the web page and the API (issue 24), each closed and kept closed:
what a new password ends, trusted proxies, one throttle for every web process, usernames compared
exactly, bounded bodies, and the smaller header and cookie rules."""

from __future__ import annotations

import os
from typing import Any

import httpx

from tests.plugins.web import PASSWORD, Site
from tests.support.ops import cli

NEW_PASSWORD = "a brand new passphrase 42"


async def _token(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()["error"]
    return body


async def _cli(site: Site, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": site.database_url}
    if stdin is None:
        return await cli(env, *args)
    import asyncio

    from tests.support.serve import BIN

    proc = await asyncio.create_subprocess_exec(
        BIN, *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_new_password_ends_its_login_tokens_and_names_the_long_lived_ones_it_keeps(
    site: Site,
) -> None:
    """A token taken with the old password stops working at `user set --password-stdin`; one made
    with `token add` keeps working and `user set` lists it, with the command that ends it."""
    async with site.client() as client:
        stolen = await _token(client, "res-a")
        code, out, err = await _cli(site, "token", "add", "res-a", "--name", "billing")
        assert code == 0, err
        billing = {"Authorization": f"Bearer {out.splitlines()[-1]}"}
        code, out, err = await _cli(
            site, "user", "set", "res-a", "--password-stdin", stdin=NEW_PASSWORD + "\n"
        )
        assert code == 0, err
        assert "login tokens ended" in out and "1 long-lived API token" in out and "token remove" in out
        assert _error(await client.get("/api/v1/dids", headers=stolen), 401)
        assert (await client.get("/api/v1/dids", headers=billing)).status_code == 200
        assert (
            await client.get("/api/v1/dids", headers=await _token(client, "res-a", NEW_PASSWORD))
        ).status_code == 200
        code, _, err = await _cli(site, "token", "add", "res-a", "--name", "login")
        assert code == 2 and "--name: 'login'" in err
