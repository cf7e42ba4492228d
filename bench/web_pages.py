"""How fast every page of the DIDs Call Transfer grid and of `GET /api/v1/dids` loads with many DIDs,
on SQLite and on MariaDB, as the admin and as a reseller; with `--before REF`, the tree at REF first,
on the same database, then this one after its `db init` has upgraded it.

    .venv/bin/python -m bench.web_pages --dids 1000000 --repeat 20 --before f9f2c66 --before-repeat 3

Fills a database (reseller -> 100 customers -> DIDs, every DID with transfer settings), starts
`did-failover web`, logs in as the admin and as the reseller, and times whole loads over HTTP (request
sent to last byte read): the first, a middle and the last page, a search for part of a number, and
the first page sorted by every column both ways; each on the page and on the API. The target
(issue 29): p95 at most 100 ms for every one at a million DIDs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
TRANSFER_COLUMNS = (
    "did_id", "enabled", "busy_destination", "no_answer_destination", "timeout", "caller_id", "updated_by",
    "updated_at",
)  # fmt: skip
ORDERS = ("did", "account", "busy", "no_answer", "unavailable", "always", "did_type", "status")
"""Every column of the grid (`number` sorts as `did_type` does: by the primary destination)."""


async def fill(url: str, dids: int) -> None:
    """Accounts and users through the service layer, DIDs and transfer rows in bulk."""
    from did_failover.admin.service import ADMIN, Service
    from did_failover.admin.users import Users
    from did_failover.storage import open_repository

    async with open_repository(url, 600.0) as repo:
        service = Service(repo)
        await service.init_db()
        await service.add_account(ADMIN, "100", "Reseller", "reseller")
        for c in range(100):
            await service.add_account(ADMIN, f"{1000 + c}", f"Customer {c}", "customer", "100")
        await Users(repo).add_user(ADMIN, "admin", "admin", None, PASSWORD)
        await Users(repo).add_user(ADMIN, "reseller", "reseller", "100", PASSWORD)
        ids = {str(row[0]): row[1] for row in await _rows(repo, "SELECT number, id FROM accounts")}
        for first in range(0, dids, 20000):
            async with repo._write() as db:
                batch = [
                    (f"1777{i:07d}", ids[f"{1000 + i % 100}"], 1, f"endpoint:desk-{i}", 30, 0, STAMP, STAMP)
                    for i in range(first, min(first + 20000, dids))
                ]
                for at in range(0, len(batch), 2000):
                    await db.insert_rows("dids", DID_COLUMNS, batch[at : at + 2000])
                # Transfers a batch at a time, by id: one transaction of a million rows and their
                # triggers would hold MariaDB's undo log for minutes.
                found = await db.fetch_all(
                    "SELECT id, number FROM dids WHERE number >= ? AND number <= ?",
                    (batch[0][0], batch[-1][0]),
                )
                rows = [
                    (
                        row[0],
                        1,
                        "pstn:+15557654321",
                        "sip:voicemail@pbx.example.com",
                        30,
                        "keep",
                        "bench",
                        STAMP,
                    )
                    for row in found
                ]
                for at in range(0, len(rows), 2000):
                    await db.insert_rows("did_transfers", TRANSFER_COLUMNS, rows[at : at + 2000])


async def _rows(repo: object, sql: str) -> list[tuple[object, ...]]:
    async with repo._read() as db:  # type: ignore[attr-defined]
        rows: list[tuple[object, ...]] = await db.fetch_all(sql)
        return rows


def _cursor(order: str, key: str, number: str) -> str:
    from did_failover.admin.paging import encode_cursor
    from did_failover.storage.records import PageKey

    return encode_cursor(order, PageKey(key, number))


def paths(dids: int, tree: str) -> list[tuple[str, str]]:
    """(name, path) of every page measured, page and API, as `tree` ("before" or "after") links them."""
    last, middle = max(1, -(-dids // 50)), f"1777{dids // 2:07d}"
    if tree == "before":
        edges = [
            ("middle page", f"/dids?page={last // 2}", f"/api/v1/dids?offset={(last // 2 - 1) * 50}"),
            ("last page", f"/dids?page={last}", f"/api/v1/dids?offset={(last - 1) * 50}"),
            ("middle, by busy", f"/dids?order=busy&page={last // 2}",
             f"/api/v1/dids?order=busy&offset={(last // 2 - 1) * 50}"),
        ]  # fmt: skip
    else:
        after, busy = _cursor("did", middle, middle), _cursor("busy", "pstn:+15557654321", middle)
        edges = [
            ("middle page", f"/dids?after={after}", f"/api/v1/dids?after={after}"),
            ("last page", "/dids?last=1", "/api/v1/dids?last=true"),
            ("middle, by busy", f"/dids?order=busy&after={busy}", f"/api/v1/dids?order=busy&after={busy}"),
        ]
    found = [("first page", "/dids", "/api/v1/dids"), *edges]
    found.append(("search 77700012", "/dids?search=77700012", "/api/v1/dids?search=77700012"))
    for order in ORDERS[1:]:
        for direction in ("asc", "desc"):
            query = f"order={order}&direction={direction}"
            found.append((f"{order} {direction}", f"/dids?{query}", f"/api/v1/dids?{query}"))
    return [(f"{name} (page)", page) for name, page, _ in found] + [
        (f"{name} (API)", api) for name, _, api in found
    ]


def timed(
    client: httpx.Client, path: str, repeat: int, headers: dict[str, str]
) -> tuple[list[float], set[int]]:
    """Milliseconds of each load, and the statuses other than 200, 0 for a dropped connection (the
    tree before this work times out on some pages of a million DIDs on MariaDB: a figure too)."""
    out, failed = [], set()
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            status = client.get(path, headers=headers).status_code
        except httpx.TransportError:
            status = 0  # the server dropped the connection
        out.append((time.perf_counter() - started) * 1000)
        if status != 200:
            failed.add(status)
    return out, failed


def login(site: str, username: str) -> tuple[httpx.Client, dict[str, str]]:
    """A logged-in page client, and the headers of an API token for the same user."""
    client = httpx.Client(base_url=site, timeout=60.0)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    done = client.post("/login", data={"csrf": token.group(1), "username": username, "password": PASSWORD})
    assert done.status_code == 303, done.text
    made = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert made.status_code == 201, made.text
    return client, {"Authorization": f"Bearer {made.json()['token']}"}


@contextlib.contextmanager
def web(url: str, tree: Path | None) -> Iterator[str]:
    """`did-failover web` of this tree, or of `tree` (a checkout of another commit), on a free port."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    env.update(DID_FAILOVER_DATABASE_URL=url, DID_FAILOVER_WEB_LISTEN=f"127.0.0.1:{port}")
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    command = [
        sys.executable,
        "-c",
        "import sys; from did_failover.main import main; sys.exit(main())",
        "web",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=tree or ROOT)
    site = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                httpx.get(f"{site}/login", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield site
    finally:
        process.terminate()
        process.wait(20)


def measure(
    label: str, url: str, dids: int, repeat: int, tree: Path | None, name: str
) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    with web(url, tree) as site:
        for who in ("admin", "reseller"):
            client, headers = login(site, who)
            for what, path in paths(dids, name):
                ms, failed = timed(client, path, repeat, headers if "(API)" in what else {})
                p95 = sorted(ms)[round(0.95 * (len(ms) - 1))]
                errors = sorted(failed)
                results.append(
                    {
                        "backend": label,
                        "tree": name,
                        "who": who,
                        "what": what,
                        "p50": statistics.median(ms),
                        "p95": p95,
                    }
                    | ({"http_errors": errors} if errors else {})
                )
                print(
                    f"{label:<8} {name:<6} {who:<9} {what:<28} p50 {statistics.median(ms):7.1f} ms"
                    f"  p95 {p95:7.1f} ms  max {max(ms):7.1f} ms{f'  HTTP {errors}' if errors else ''}",
                    flush=True,
                )
            client.close()
    return results


def _timed_run(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def run(label: str, url: str, args: argparse.Namespace, before: Path | None) -> list[dict[str, object]]:
    # This file's fill (batched), with the did_failover of the tree measured first (its own schema).
    env = {**os.environ, "PYTHONPATH": str(before or ROOT)}
    fill_code = (
        "import asyncio, importlib.util, sys;"
        " spec = importlib.util.spec_from_file_location('pages', sys.argv[3]);"
        " pages = importlib.util.module_from_spec(spec); spec.loader.exec_module(pages);"
        " asyncio.run(pages.fill(sys.argv[1], int(sys.argv[2])))"
    )
    command = [sys.executable, "-c", fill_code, url, str(args.dids), str(Path(__file__).resolve())]
    seconds = _timed_run(command, env, before or ROOT)
    print(
        f"{label}: {args.dids} DIDs loaded in {seconds:.0f} s"
        f" ({'the tree at ' + args.before if before else 'this tree'})",
        flush=True,
    )
    results: list[dict[str, object]] = []
    if before is not None:
        results += measure(label, url, args.dids, args.before_repeat, before, "before")
        init = [
            sys.executable,
            "-c",
            "import sys; from did_failover.main import main; sys.exit(main())",
            "db",
            "init",
        ]
        upgraded = _timed_run(init, {**os.environ, "DID_FAILOVER_DATABASE_URL": url}, ROOT)
        print(f"{label}: db init upgraded the database to this tree's schema in {upgraded:.0f} s", flush=True)
        results.append({"backend": label, "upgrade_seconds": upgraded})
    results.append({"backend": label, "fill_seconds": seconds})
    return results + measure(label, url, args.dids, args.repeat, None, "after")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dids", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--before", help="a commit to measure first, on the same database (a git worktree of it)")
    p.add_argument("--before-repeat", type=int, default=3, help="loads of each page of --before (it is slow)")
    p.add_argument("--backends", default="sqlite,mariadb")
    args = p.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, object]] = []
    with contextlib.ExitStack() as stack:
        before = None
        if args.before:
            before = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-before-"))) / "tree"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(before), args.before], cwd=ROOT, check=True
            )
            stack.callback(subprocess.run, ["git", "worktree", "remove", "--force", str(before)], cwd=ROOT)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                sqlite_path = RESULTS / "web-pages.db"
                sqlite_path.unlink(missing_ok=True)
                results += run("SQLite", f"sqlite:///{sqlite_path}", args, before)
            else:
                with mariadb_database("didfo_web") as mysql_url:
                    results += run("MariaDB", mysql_url, args, before)
    out = RESULTS / f"web-pages-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"dids": args.dids, "repeat": args.repeat, "results": results}, indent=1))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
