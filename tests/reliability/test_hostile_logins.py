"""Anonymous login requests cannot grow the web process for good: 1,000 hostile logins (huge
usernames, hundreds of distinct names, oversized bodies) against a real `did-failover web`, with the
process's resident memory before and after as the figure."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from tests.plugins.web import StartSite
from tests.reliability.conftest import rss_kib
from tests.web.conftest import world

pytestmark = pytest.mark.slow  # property runs of tens of seconds: not in scripts/test --quick

HUGE_NAME = "u" * 60_000
"""Under the 64 KiB body cap: the username rule refuses it."""
HUGE_BODY = b"{" + b" " * (10 * 1024 * 1024)
"""10 MB: over the body cap."""


async def _hostile(client: httpx.AsyncClient, number: int) -> str:
    """One hostile login; what came back (a status, or the error of a connection the server cut)."""
    kind = number % 10
    try:
        if kind == 0:
            answer = await client.post(
                "/api/v1/tokens", content=HUGE_BODY, headers={"content-type": "application/json"}
            )
        elif kind <= 3:
            answer = await client.post("/api/v1/tokens", json={"username": HUGE_NAME, "password": "x"})
        elif kind == 4:
            answer = await client.post("/login", data={"csrf": "x", "username": HUGE_NAME, "password": "x"})
        else:
            answer = await client.post("/api/v1/tokens", json={"username": f"guess{number}", "password": "x"})
    except httpx.TransportError as exc:
        return type(exc).__name__
    return str(answer.status_code)


async def test_a_thousand_hostile_logins_leave_the_web_process_as_big_as_it_was(
    sqlite_url: str, start_site: StartSite, figures: Callable[..., None]
) -> None:
    """Every hostile login is refused (413 for a body over 64 KiB, 422 or 403 for a name that breaks
    the username rule, 401 then 429 for distinct names once the address is over its limit), and the
    process's resident memory grows by less than 16 MiB (it grew 90 MB for 8 such requests before
    the body cap and the username rule)."""
    await world(sqlite_url)
    site = await start_site(sqlite_url)
    async with site.client() as client:
        for number in range(10):  # warm-up: every kind once, so first-use allocations are not counted
            await _hostile(client, number)
        before = rss_kib(site.process.pid)
        answers: Counter[str] = Counter()
        for start in range(0, 1000, 20):
            batch = await asyncio.gather(*(_hostile(client, n) for n in range(start, start + 20)))
            answers.update(batch)
        after = rss_kib(site.process.pid)
    figures(
        hostile_logins=sum(answers.values()),
        answers=dict(sorted(answers.items())),
        rss_before_kib=before,
        rss_after_kib=after,
        growth_kib=after - before,
    )
    assert set(answers) <= {"401", "403", "413", "422", "429"}, answers
    assert answers["413"] == 100 and answers["429"] > 400
    assert after - before < 16 * 1024, (before, after)
