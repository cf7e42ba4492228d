"""The change watcher against real databases: what a poll expires, out-of-order commits, races."""

from __future__ import annotations

import asyncio

import pytest

from did_failover.errors import StorageUnavailable
from did_failover.routing.cache import RouteCache
from did_failover.routing.watch import ChangeWatcher
from did_failover.storage import DIDRoute, Repository, TransferRow, acting_as, open_repository
from did_failover.storage.sqlite import SQLiteRepository
from tests.support.db import execute, mysql_connect
from tests.support.net import TcpProxy


async def _world(repo: Repository) -> None:
    await repo.init_schema()
    await repo.add_account("1001", "Customer", "customer", None)
    await repo.add_account("1002", "Other", "customer", None)
    for did, account in (("15550001", "1001"), ("15550002", "1001"), ("15550003", "1002")):
        await repo.add_did(did, account, "endpoint:desk", 30, 0)
        await repo.set_transfer(TransferRow(did, True, None, "pstn:+4930999", None, None, 30, "keep", "t"))


async def _watched(repo: Repository) -> tuple[RouteCache, ChangeWatcher]:
    cache = RouteCache(repo, ttl=3600, db_timeout=2.0)
    watcher = ChangeWatcher(repo, cache, interval=1.0, db_timeout=2.0, retention_days=365)
    assert await watcher.poll() == 0  # the first poll only finds where the log ends
    for did in ("15550001", "15550002", "15550003", "15559999"):
        await cache.lookup(did)
    return cache, watcher


async def _sources(cache: RouteCache, *dids: str) -> list[str]:
    return [(await cache.lookup(did))[1] for did in dids]


async def test_a_poll_expires_exactly_the_dids_a_change_names(repo_url: str) -> None:
    """A DID changed by hand is read again on its next lookup; the others stay cache hits."""
    async with open_repository(repo_url, 5.0) as repo:
        await _world(repo)
        cache, watcher = await _watched(repo)
        execute(
            repo_url,
            "UPDATE did_transfers SET enabled = 0 WHERE did_id = (SELECT id FROM dids WHERE number = ?)",
            ("15550002",),
        )
        assert await _sources(cache, "15550002") == ["hit"]  # not polled yet: the TTL would decide
        assert await watcher.poll() == 1
        assert await _sources(cache, "15550001", "15550002", "15550003") == ["hit", "miss", "hit"]
        route, _ = await cache.lookup("15550002")
        assert route is not None and route.transfer_enabled is False
        assert await watcher.poll() == 0
        assert await _sources(cache, "15550002") == ["hit"]


async def test_an_account_change_expires_its_dids_and_an_added_or_removed_did_its_own(repo_url: str) -> None:
    """Account switch: every cached DID of the account. A DID added after a NOT_FOUND, or removed."""
    async with open_repository(repo_url, 5.0) as repo:
        await _world(repo)
        cache, watcher = await _watched(repo)
        with acting_as("cli:alice"):
            await repo.update_account("1001", transfer_enabled=False)
        await watcher.poll()
        assert await _sources(cache, "15550001", "15550002", "15550003") == ["miss", "miss", "hit"]
        with acting_as("cli:alice"):
            await repo.add_did("15559999", "1002", "endpoint:new", 30, 0)
            await repo.remove_did("15550003")
        assert (await cache.lookup("15559999"))[0] is None  # cached NOT_FOUND until the poll
        await watcher.poll()
        added, source = await cache.lookup("15559999")
        assert (source, added is not None and added.primary) == ("miss", "endpoint:new")
        assert await cache.lookup("15550003") == (None, "miss")


async def test_a_did_renamed_by_hand_expires_the_old_and_the_new_number(repo_url: str) -> None:
    """UPDATE dids SET number = ...: the old number becomes NOT_FOUND, the new one routes."""
    async with open_repository(repo_url, 5.0) as repo:
        await _world(repo)
        cache, watcher = await _watched(repo)
        execute(repo_url, "UPDATE dids SET number = ? WHERE number = ?", ("15559999", "15550001"))
        await watcher.poll()
        assert await cache.lookup("15550001") == (None, "miss")
        renamed, source = await cache.lookup("15559999")
        assert (source, renamed is not None and renamed.did) == ("miss", "15559999")


async def test_a_change_committed_after_a_later_one_is_still_applied(mysql_url: str) -> None:
    """Two writers: the one holding the lower id commits after the poll saw the higher id. The
    watcher keeps looking for the lower id and applies it when it lands."""
    async with open_repository(mysql_url, 5.0) as repo:
        await _world(repo)
        cache, watcher = await _watched(repo)
        slow = mysql_connect(mysql_url)
        try:
            slow.begin()
            with slow.cursor() as cur:
                cur.execute("UPDATE dids SET ring_timeout = 11 WHERE number = '15550001'")
            execute(mysql_url, "UPDATE dids SET ring_timeout = 12 WHERE number = '15550003'")
            assert await watcher.poll() == 1
            assert await _sources(cache, "15550001", "15550003") == ["hit", "miss"]
            slow.commit()
        finally:
            slow.close()
        assert await watcher.poll() == 1
        route, source = await cache.lookup("15550001")
        assert (source, route is not None and route.ring_timeout) == ("miss", 11)


async def test_polls_fail_while_the_database_is_away_and_the_next_one_catches_up(mysql_url: str) -> None:
    """The watcher's database connection is cut while a change is made on another one: polls fail,
    the cache keeps routing as it was, and the first poll after the database is back applies it."""
    proxy = TcpProxy(3306)
    await proxy.start()
    through_proxy = mysql_url.replace("127.0.0.1:3306", f"127.0.0.1:{proxy.port}")
    async with open_repository(through_proxy, 1.0) as repo:
        await _world(repo)
        cache, watcher = await _watched(repo)
        await proxy.cut()
        execute(mysql_url, "UPDATE dids SET active = 0 WHERE number = '15550002'")
        with pytest.raises(StorageUnavailable):
            await watcher.poll()
        assert watcher.errors == 0  # counted by the loop, not by poll()
        route, source = await cache.lookup("15550002")
        assert (source, route is not None and route.did_active) == ("hit", True)
        await proxy.start()
        assert await watcher.poll() == 1
        route, source = await cache.lookup("15550002")
        assert (source, route is not None and route.did_active) == ("miss", False)
    await proxy.cut()


class _SlowRoutes(SQLiteRepository):
    """The real SQLite repository, with get_route held until the test lets it finish."""

    release: asyncio.Event

    async def get_route(self, did: str) -> DIDRoute | None:
        route = await super().get_route(did)
        await self.release.wait()
        return route


async def test_an_answer_read_before_a_change_is_not_kept_as_fresh(sqlite_url: str) -> None:
    """A lookup whose query ran before a change but finished after the poll: its answer is kept only
    as an expired fallback, and a lookup that starts after the poll does not share its query."""
    async with open_repository(sqlite_url, 5.0) as plain:
        await _world(plain)
    repo = _SlowRoutes(sqlite_url.removeprefix("sqlite:///"), 5.0)
    repo.release = asyncio.Event()
    repo.release.set()
    try:
        cache = RouteCache(repo, ttl=3600, db_timeout=5.0)
        watcher = ChangeWatcher(repo, cache, interval=1.0, db_timeout=5.0, retention_days=365)
        await watcher.poll()
        repo.release.clear()
        early = asyncio.create_task(cache.lookup("15550001"))
        await asyncio.sleep(0.1)  # its query has read the old row and waits
        execute(sqlite_url, "UPDATE dids SET primary_destination = 'endpoint:new' WHERE number = '15550001'")
        await watcher.poll()
        late = asyncio.create_task(cache.lookup("15550001"))
        await asyncio.sleep(0.1)
        repo.release.set()
        old, _ = await early
        new, _ = await late
        assert (old is not None and old.primary, new is not None and new.primary) == (
            "endpoint:desk",
            "endpoint:new",
        )
        route, _ = await cache.lookup("15550001")  # a hit, or one more miss; never the old answer
        assert route is not None and route.primary == "endpoint:new"
    finally:
        await repo.close()


async def test_retention_deletes_changes_older_than_the_setting(sqlite_url: str) -> None:
    """With a 30-day retention, rows dated 40 days ago go in batches and today's stay."""
    async with open_repository(sqlite_url, 5.0) as repo:
        await _world(repo)
        total = len(await repo.changes_after(0))
        execute(sqlite_url, "UPDATE change_log SET changed_at = datetime('now', '-40 days') WHERE id <= 5")
        watcher = ChangeWatcher(
            repo, RouteCache(repo, 60, 1.0), interval=1.0, db_timeout=1.0, retention_days=30
        )
        assert await watcher.apply_retention(batch=2) == 5
        assert len(await repo.changes_after(0)) == total - 5
        assert await watcher.apply_retention(batch=2) == 0
