"""`did-failover web` as a real process on a free port (fixture `start_site`), and logging in to it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.net import free_port
from tests.support.serve import BIN

PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    url: str
    database_url: str
    process: asyncio.subprocess.Process

    def client(self) -> httpx.AsyncClient:
        """A client with its own cookie jar, following no redirects (the tests look at them)."""
        return httpx.AsyncClient(base_url=self.url, timeout=10.0)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        client = self.client()
        response = await client.post(
            "/login", data={"csrf": await login_token(client), "username": username, "password": password}
        )
        assert response.status_code == 303 and response.headers["location"] == "/dids", response.text
        return client


async def login_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    return csrf_of(page.text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def log_in(url: str, username: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A synchronous client logged in to the page at `url`, and the CSRF token its forms carry."""
    client = httpx.Client(base_url=url, timeout=10.0)
    done = client.post(
        "/login",
        data={"csrf": csrf_of(client.get("/login").text), "username": username, "password": password},
    )
    assert done.status_code == 303, done.text
    return client, csrf_of(client.get("/dids").text)


async def api_token(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of a token from `POST /api/v1/tokens`."""
    response = await client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def api_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The API's error object, after checking the status and its shape (one line, a field or null)."""
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()["error"]
    assert set(body) == {"message", "field"} and "\n" not in body["message"]
    return body


StartSite = Callable[..., Awaitable[Site]]


@pytest.fixture
async def start_site(tmp_path: Path) -> AsyncIterator[StartSite]:
    """`await start_site(database_url, **settings)`: the web process, stopped after the test."""
    started: list[asyncio.subprocess.Process] = []

    async def start(database_url: str, **settings: str) -> Site:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
        env.update(
            DID_FAILOVER_DATABASE_URL=database_url,
            DID_FAILOVER_WEB_LISTEN=f"127.0.0.1:{port}",
            DID_FAILOVER_LOG_FORMAT="json",
            **{f"DID_FAILOVER_{k.upper()}": v for k, v in settings.items()},
        )
        log = (tmp_path / f"web-{port}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            BIN, "web", env=env, stdout=log, stderr=subprocess.STDOUT
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as probe:
            for _ in range(200):
                if process.returncode is not None:
                    raise RuntimeError((tmp_path / f"web-{port}.log").read_text())
                try:
                    await probe.get("/login")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        return Site(url, database_url, process)

    yield start
    for process in started:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)
