"""How fast the web page's DIDs Call Transfer grid loads with 100,000 DIDs, on SQLite and MariaDB.

    .venv/bin/python -m bench.web_pages [--dids 100000] [--repeat 20]

Fills a database (reseller -> 100 customers -> DIDs, every DID with transfer settings), starts
`did-failover web`, logs in as the admin and as the reseller, and times whole page loads over HTTP
(request sent to last byte read) for the first page, a page in the middle, the last page, a search,
and a sort on another column. The target (issue 15): under 200 ms a page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.run import RESULTS, _free_port
from bench.scratch import mariadb_database

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - the benchmark's own throwaway users
ROOT = Path(__file__).resolve().parents[1]
STAMP = "2026-12-01 00:00:00"
DID_COLUMNS = (
    "number", "account_id", "active", "primary_destination", "ring_timeout", "max_channels", "created_at",
    "updated_at",
)  # fmt: skip


async def fill(url: str, dids: int) -> None:
    """Accounts and users through the service layer, DIDs and transfer rows in bulk."""
    from did_failover.admin.service import ADMIN, Service
    from did_failover.admin.users import Users
    from did_failover.storage import open_repository

    async with open_repository(url, 60.0) as repo:
        service = Service(repo)
        await service.init_db()
        await service.add_account(ADMIN, "100", "Reseller", "reseller")
        for c in range(100):
            await service.add_account(ADMIN, f"{1000 + c}", f"Customer {c}", "customer", "100")
        await Users(repo).add_user(ADMIN, "admin", "admin", None, PASSWORD)
        await Users(repo).add_user(ADMIN, "reseller", "reseller", "100", PASSWORD)
        ids = {str(row[0]): row[1] for row in await _rows(repo, "SELECT number, id FROM accounts")}
        async with repo._write() as db:
            batch = []
            for i in range(dids):
                account = ids[f"{1000 + i % 100}"]
                batch.append((f"1777{i:07d}", account, 1, f"endpoint:desk-{i}", 30, 0, STAMP, STAMP))
                if len(batch) == 2000 or i == dids - 1:
                    await db.insert_rows("dids", DID_COLUMNS, batch)
                    batch = []
            await db.execute(
                "INSERT INTO did_transfers (did_id, enabled, busy_destination, no_answer_destination,"
                " timeout, caller_id, updated_by, updated_at) SELECT id, 1, 'pstn:+15557654321',"
                " 'sip:voicemail@pbx.example.com', 30, 'keep', 'bench', '2026-12-01 00:00:00' FROM dids"
            )


async def _rows(repo: object, sql: str) -> list[tuple[object, ...]]:
    async with repo._read() as db:  # type: ignore[attr-defined]
        rows: list[tuple[object, ...]] = await db.fetch_all(sql)
        return rows


def timed(client: httpx.Client, path: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return out


def login(site: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=site, timeout=30.0)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    done = client.post("/login", data={"csrf": token.group(1), "username": username, "password": PASSWORD})
    assert done.status_code == 303, done.text
    return client


def measure(label: str, url: str, dids: int, repeat: int) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    env.update(DID_FAILOVER_DATABASE_URL=url, DID_FAILOVER_WEB_LISTEN=f"127.0.0.1:{port}")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("did-failover")), "web"], env=env, stdout=subprocess.DEVNULL
    )
    site = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                httpx.get(f"{site}/login", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        last = max(1, -(-dids // 50))
        for who in ("admin", "reseller"):
            client = login(site, who)
            for name, path in (
                ("first page", "/dids"),
                ("middle page", f"/dids?page={last // 2}"),
                ("last page", f"/dids?page={last}"),
                ("search", "/dids?search=77700012"),
                ("sort by busy, desc", "/dids?order=busy&direction=desc&page=10"),
            ):
                ms = timed(client, path, repeat)
                p95 = sorted(ms)[int(0.95 * (len(ms) - 1))]
                print(
                    f"{label:<8} {who:<9} {name:<19} p50 {statistics.median(ms):7.1f} ms"
                    f"  p95 {p95:7.1f} ms  max {max(ms):7.1f} ms",
                    flush=True,
                )
            client.close()
    finally:
        process.terminate()
        process.wait(20)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dids", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    sqlite_path = RESULTS / "web-pages.db"
    sqlite_path.unlink(missing_ok=True)
    sqlite_url = f"sqlite:///{sqlite_path}"
    with mariadb_database("didfo_web") as mysql_url:
        for label, url in (("SQLite", sqlite_url), ("MariaDB", mysql_url)):
            started = time.monotonic()
            asyncio.run(fill(url, args.dids))
            print(f"{label}: {args.dids} DIDs loaded in {time.monotonic() - started:.0f} s", flush=True)
            measure(label, url, args.dids, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
