"""The change log: every write recorded by the triggers, on both back ends, and the upgrades to v3."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from did_failover.errors import InputError
from did_failover.storage import (
    SCHEMA_VERSION,
    CallRecord,
    Repository,
    TransferRow,
    acting_as,
    open_repository,
)
from did_failover.storage._sql import split_statements
from tests.support.db import dump, execute

ROOT = Path(__file__).resolve().parents[2]
OLD_SCHEMAS = ROOT / "tests" / "data"
"""The schemas of versions 1 and 2 as they were released, to upgrade from."""


def _changes(rows: list[object]) -> list[tuple[object, ...]]:
    return [(c.actor, c.action, c.subject, c.account, c.did, c.field, c.old, c.new) for c in rows]  # type: ignore[attr-defined]


async def _world(repo: Repository) -> None:
    await repo.init_schema()
    await repo.add_account("100", "Reseller", "reseller", None)
    await repo.add_account("1001", "Customer", "customer", "100")
    await repo.add_did("15550001", "1001", "pstn:+4930111", 30, 0)


def test_the_triggers_in_the_schema_files_are_the_generated_ones() -> None:
    """scripts/schema_triggers.py --check: nobody edited one dialect's triggers and not the other's."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "schema_triggers.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (0, "")


async def test_every_write_is_recorded_field_by_field_with_its_actor(repo_url: str) -> None:
    """Add, set and remove of accounts, DIDs and transfer settings: one row per field that changed."""
    async with open_repository(repo_url, 5.0) as repo:
        with acting_as("cli:alice"):
            await _world(repo)
            await repo.set_transfer(
                TransferRow("15550001", True, None, "pstn:+4930999", None, None, 30, "keep", "cli:alice")
            )
        first = (await repo.list_changes(limit=1))[0].id
        with acting_as("cli:bob"):
            await repo.set_transfer(
                TransferRow(
                    "15550001", False, None, "sip:desk@pbx.example.com", None, None, 30, "keep", "cli:bob"
                )
            )
            await repo.update_did("15550001", ring_timeout=45)
            await repo.update_account("1001", transfer_enabled=False)
            await repo.remove_did("15550001")
        newest_first = await repo.list_changes(limit=100)
        later = [c for c in newest_first if c.id > first]
        everything = await repo.list_changes(limit=1000)
    assert _changes(list(reversed(later))) == [
        ("cli:bob", "set", "transfer", "1001", "15550001", "transfer", "true", "false"),
        (
            "cli:bob",
            "set",
            "transfer",
            "1001",
            "15550001",
            "busy",
            "pstn:+4930999",
            "sip:desk@pbx.example.com",
        ),
        ("cli:bob", "set", "did", "1001", "15550001", "ring_timeout", "30", "45"),
        ("cli:bob", "set", "account", "1001", None, "transfer", "true", "false"),
        ("cli:bob", "remove", "transfer", "1001", "15550001", "transfer", "false", None),
        ("cli:bob", "remove", "transfer", "1001", "15550001", "busy", "sip:desk@pbx.example.com", None),
        ("cli:bob", "remove", "transfer", "1001", "15550001", "timeout", "30", None),
        ("cli:bob", "remove", "transfer", "1001", "15550001", "caller_id", "keep", None),
        ("cli:bob", "remove", "did", "1001", "15550001", "number", "15550001", None),
        ("cli:bob", "remove", "did", "1001", "15550001", "account", "1001", None),
        ("cli:bob", "remove", "did", "1001", "15550001", "active", "true", None),
        ("cli:bob", "remove", "did", "1001", "15550001", "primary", "pstn:+4930111", None),
        ("cli:bob", "remove", "did", "1001", "15550001", "ring_timeout", "45", None),
        ("cli:bob", "remove", "did", "1001", "15550001", "max_channels", "0", None),
    ]
    added = [c for c in _changes(list(reversed(everything))) if c[1] == "add"]
    assert ("cli:alice", "add", "account", "1001", None, "reseller", None, "100") in added
    assert ("cli:alice", "add", "did", "1001", "15550001", "primary", None, "pstn:+4930111") in added
    assert ("cli:alice", "add", "transfer", "1001", "15550001", "busy", None, "pstn:+4930999") in added
    assert not [c for c in added if c[5] == "always"]  # unset fields are not "added"


async def test_a_row_edited_by_hand_is_recorded_as_sql(repo_url: str) -> None:
    """An UPDATE typed into the database's own client is caught by the trigger, actor `sql`."""
    async with open_repository(repo_url, 5.0) as repo:
        await _world(repo)
        execute(repo_url, "UPDATE dids SET primary_destination = ?, active = 0", ("endpoint:desk-7",))
        execute(repo_url, "UPDATE accounts SET name = ? WHERE number = ?", ("Renamed", "100"))
        changes = await repo.list_changes(limit=3)
        by_sql = await repo.list_changes(actor="sql")
    assert _changes(changes) == [
        ("sql", "set", "account", "100", None, "name", "Reseller", "Renamed"),
        ("sql", "set", "did", "1001", "15550001", "primary", "pstn:+4930111", "endpoint:desk-7"),
        ("sql", "set", "did", "1001", "15550001", "active", "true", "false"),
    ]
    assert len(by_sql) == 3


async def test_a_refused_write_records_nothing_and_the_actor_does_not_outlive_its_write(
    repo_url: str,
) -> None:
    """A write the database refuses rolls its change rows back; the next write by hand is `sql` again."""
    async with open_repository(repo_url, 5.0) as repo:
        with acting_as("cli:alice"):
            await _world(repo)
            before = dump(repo_url)
            with pytest.raises(InputError):
                await repo.add_did("15550001", "1001", "pstn:+4930222", 30, 0)  # duplicate number
            with pytest.raises(InputError):
                await repo.update_did("15550001", ring_timeout=0)  # CHECK constraint
            assert dump(repo_url) == before
            await repo.update_did("15550001", ring_timeout=20)
        for _ in range(3):  # every pooled connection: none kept the actor
            execute(repo_url, "UPDATE dids SET ring_timeout = ring_timeout + 1")
        changes = await repo.list_changes(limit=4)
    assert [(c.actor, c.old, c.new) for c in changes] == [
        ("sql", "22", "23"),
        ("sql", "21", "22"),
        ("sql", "20", "21"),
        ("cli:alice", "30", "20"),
    ]
    if repo_url.startswith("sqlite"):
        assert execute(repo_url, "SELECT COUNT(*) FROM change_actor") == [(0,)]


async def test_changes_filter_by_did_account_actor_since_and_reseller(repo_url: str) -> None:
    """list_changes: newest first, each filter alone, and a reseller sees only its customers' rows."""
    async with open_repository(repo_url, 5.0) as repo:
        with acting_as("cli:alice"):
            await _world(repo)
            await repo.add_account("200", "Other reseller", "reseller", None)
            await repo.add_account("2001", "Other customer", "customer", "200")
            await repo.add_did("15550002", "2001", "pstn:+4930222", 30, 0)
        with acting_as("cli:bob"):
            await repo.update_did("15550002", max_channels=3)
        assert {c.did for c in await repo.list_changes(did="+15550002", limit=100)} == {"15550002"}
        assert {c.account for c in await repo.list_changes(account="1001", limit=100)} == {"1001"}
        assert _changes(await repo.list_changes(actor="cli:bob")) == [
            ("cli:bob", "set", "did", "2001", "15550002", "max_channels", "0", "3")
        ]
        assert {c.account for c in await repo.list_changes(reseller="100", limit=100)} == {"1001"}
        assert {c.account for c in await repo.list_changes(reseller="200", limit=100)} == {"2001"}
        assert await repo.list_changes(since=datetime.now(UTC) + timedelta(minutes=1)) == []
        ids = [c.id for c in await repo.list_changes(limit=100)]
    assert ids == sorted(ids, reverse=True)


async def test_changes_after_reads_by_id_and_retention_deletes_in_batches(repo_url: str) -> None:
    """The watcher's query (ids above, plus ids still awaited) and the retention delete."""
    async with open_repository(repo_url, 5.0) as repo:
        await _world(repo)
        top = await repo.last_change_id()
        everything = await repo.changes_after(0)
        assert [c.id for c in everything] == sorted(c.id for c in everything)
        assert everything[-1].id == top
        middle = everything[len(everything) // 2].id
        assert [c.id for c in await repo.changes_after(top, also=[middle])] == [middle]
        assert await repo.changes_after(top) == []
        execute(
            repo_url, "UPDATE change_log SET changed_at = ? WHERE id <= ?", ("2020-01-01 00:00:00", middle)
        )
        deleted = 0
        while batch := await repo.delete_changes_before(datetime(2021, 1, 1, tzinfo=UTC), 3):
            assert batch <= 3
            deleted += batch
        remaining = await repo.changes_after(0)
    assert deleted == len([c for c in everything if c.id <= middle])
    assert [c.id for c in remaining] == [c.id for c in everything if c.id > middle]


def _create_old(url: str, version: int) -> None:
    """A database of an older schema version, from its schema kept in tests/data, filled with raw SQL."""
    dialect = "sqlite" if url.startswith("sqlite") else "mysql"
    for statement in split_statements(
        (OLD_SCHEMAS / f"schema_v{version}" / f"schema_{dialect}.sql").read_text()
    ):
        execute(url, statement)
    rows = [
        "INSERT INTO accounts (id, number, name, type, reseller_id)"
        " VALUES (1, '100', 'Reseller', 'reseller', NULL)",
        "INSERT INTO accounts (id, number, name, type, reseller_id, transfer_enabled)"
        " VALUES (2, '1001', 'Customer', 'customer', 1, 1)",
        "INSERT INTO accounts (id, number, name, type, reseller_id, active)"
        " VALUES (3, '3001', 'Gone', 'customer', NULL, 0)",
        "INSERT INTO dids (id, number, account_id, primary_destination, ring_timeout, max_channels)"
        " VALUES (1, '15550001', 2, 'pstn:+4930111', 25, 4)",
        "INSERT INTO dids (id, number, account_id, active, primary_destination)"
        " VALUES (2, '15550002', 2, 0, 'endpoint:desk-2')",
        "INSERT INTO dids (id, number, account_id, primary_destination)"
        " VALUES (3, '15550003', 3, 'sip:a@b.example.com')",
        "INSERT INTO did_transfers (did_id, enabled, busy_destination, no_answer_destination, timeout,"
        " caller_id, updated_by)"
        " VALUES (1, 1, 'pstn:+4930999', 'sip:desk@pbx.example.com', 20, 'did', 'admin')",
        "INSERT INTO did_transfers (did_id, enabled, always_destination) VALUES (2, 0, 'endpoint:desk-9')",
        "INSERT INTO call_log (started_at, did, account_number, result, leg) VALUES"
        " ('2026-11-30 10:00:00.000', '15550001', '1001', 'TRANSFERRED', 'busy')",
    ]
    for row in rows:
        execute(url, row)


@pytest.mark.parametrize("old", [1, 2, 3, 4])
async def test_db_init_upgrades_an_older_database_in_place(repo_url: str, old: int) -> None:
    """Every row and every route of a v1, v2, v3 or v4 database survive `init_schema`; writes are
    logged after it, the new fields too."""
    _create_old(repo_url, old)
    before = {table: rows for table, rows in dump_v1(repo_url).items()}
    dids = ("15550001", "15550002", "15550003", "15559999")
    async with open_repository(repo_url, 5.0) as repo:
        assert await repo.schema_version() == old
        # Versions 2 and 3 already log the raw inserts (as `sql`); the upgrade itself logs nothing.
        known = [c.id for c in await repo.list_changes(limit=1000)] if old >= 2 else []
        assert await repo.init_schema() == SCHEMA_VERSION
        assert dump_v1(repo_url) == before
        routes = [await repo.get_route(did) for did in dids]
        assert routes[0] is not None and (
            routes[0].busy,
            routes[0].no_answer,
            routes[0].caller_id,
            routes[0].max_channels,
            routes[0].transfer_timeout,
            routes[0].after_hours,
            routes[0].schedule,
        ) == ("pstn:+4930999", "sip:desk@pbx.example.com", "did", 4, 20, None, None)
        assert routes[1] is not None and (
            routes[1].did_active,
            routes[1].always,
            routes[1].transfer_enabled,
        ) == (
            False,
            "endpoint:desk-9",
            False,
        )
        assert routes[3] is None
        assert [c.id for c in await repo.list_changes(limit=1000)] == known
        assert await repo.init_schema() == SCHEMA_VERSION  # and again: idempotent
        assert [await repo.get_route(did) for did in dids] == routes
        with acting_as("cli:alice"):
            await repo.update_did("15550003", primary="endpoint:desk-3")
            await repo.set_transfer(
                TransferRow(
                    did="15550001",
                    enabled=True,
                    always=None,
                    busy="pstn:+4930999,pstn:+4930888/20,voicemail:100",
                    no_answer="sip:desk@pbx.example.com",
                    unavailable=None,
                    transfer_timeout=20,
                    caller_id="did",
                    updated_by="cli:alice",
                    after_hours="pstn:+4930777",
                    schedule="Europe/Berlin; mon-fri 08:00-17:00",
                )
            )
        new = [c for c in await repo.list_changes(limit=1000) if c.id not in known]
        assert sorted(_changes(new)) == [
            (
                "cli:alice",
                "set",
                "did",
                "3001",
                "15550003",
                "primary",
                "sip:a@b.example.com",
                "endpoint:desk-3",
            ),
            ("cli:alice", "set", "transfer", "1001", "15550001", "after_hours", None, "pstn:+4930777"),
            (
                "cli:alice",
                "set",
                "transfer",
                "1001",
                "15550001",
                "busy",
                "pstn:+4930999",
                "pstn:+4930999,pstn:+4930888/20,voicemail:100",
            ),
            (
                "cli:alice",
                "set",
                "transfer",
                "1001",
                "15550001",
                "schedule",
                None,
                "Europe/Berlin; mon-fri 08:00-17:00",
            ),
        ]


V1_COLUMNS = {
    "accounts": "*",
    "dids": "*",
    "did_transfers": "did_id, enabled, always_destination, busy_destination, no_answer_destination,"
    " unavailable_destination, timeout, caller_id, updated_by, updated_at",
    "call_log": "id, started_at, did, account_number, caller, primary_destination, primary_dialstatus,"
    " transfer_condition, transfer_destination, transfer_dialstatus, result, leg, answered_at, ended_at,"
    " hangup_cause, billsec, uniqueid",
}


def dump_v1(url: str) -> dict[str, list[tuple[object, ...]]]:
    """The rows of the version-1 tables, their version-1 columns (schema_version aside: the upgrade
    changes it)."""
    return {
        table: execute(url, f"SELECT {columns} FROM {table} ORDER BY 1")
        for table, columns in V1_COLUMNS.items()
    }


@pytest.mark.parametrize("old", [1, 3, 4])
async def test_the_upgrade_to_5_folds_the_rows_a_call_was_written_twice_into_one(
    repo_url: str, old: int
) -> None:
    """Rows an older version wrote twice for one call (same uniqueid and start) become one, the
    first; calls with another start, or without a uniqueid, all stay; a batch sent again after the
    upgrade adds nothing."""
    _create_old(repo_url, old)
    columns = "(started_at, did, account_number, result, uniqueid)"
    for started, uniqueid in [
        ("2026-12-01 10:00:00.000", "1764583200.1"),
        ("2026-12-01 10:00:00.000", "1764583200.1"),
        ("2026-12-01 10:00:00.000", "1764583200.1"),
        ("2026-12-01 10:05:00.000", "1764583200.1"),  # another call with that uniqueid (another box)
        ("2026-12-01 10:06:00.000", None),
        ("2026-12-01 10:06:00.000", None),
    ]:
        execute(
            repo_url,
            f"INSERT INTO call_log {columns} VALUES (?, '15550001', '1001', 'ANSWERED', ?)",
            (started, uniqueid),
        )
    async with open_repository(repo_url, 5.0) as repo:
        assert await repo.init_schema() == SCHEMA_VERSION
        assert await repo.init_schema() == SCHEMA_VERSION
        stored = execute(
            repo_url, "SELECT started_at, uniqueid FROM call_log WHERE did = '15550001' ORDER BY id"
        )
        assert [(str(started)[:16], uniqueid) for started, uniqueid in stored] == [
            ("2026-11-30 10:00", None),
            ("2026-12-01 10:00", "1764583200.1"),
            ("2026-12-01 10:05", "1764583200.1"),
            ("2026-12-01 10:06", None),
            ("2026-12-01 10:06", None),
        ]
        batch = [
            CallRecord(
                datetime(2026, 12, 2, 9, 0, tzinfo=UTC), "15550001", "ANSWERED", "1001", uniqueid=f"9.{i}"
            )
            for i in range(3)
        ]
        await repo.insert_calls(batch)
        await repo.insert_calls(batch)  # the commit was made but not confirmed: sent again
        assert [c.uniqueid for c in await repo.list_calls(since=datetime(2026, 12, 2, tzinfo=UTC))] == [
            "9.2",
            "9.1",
            "9.0",
        ]


async def test_usernames_are_compared_exactly_after_the_upgrade_to_4(repo_url: str) -> None:
    """A version-3 database's users are found by their exact name only after `init_schema` (MySQL's
    users.username was case- and accent-insensitive), and a name differing in case can be added."""
    _create_old(repo_url, 3)
    execute(repo_url, "INSERT INTO users (username, role, password_hash) VALUES ('Res2000', 'admin', 'x')")
    async with open_repository(repo_url, 5.0) as repo:
        assert await repo.init_schema() == SCHEMA_VERSION
        for spelling in ("res2000", "RES2000", "Rés2000"):
            assert await repo.get_user(spelling) is None, spelling
        found = await repo.get_user("Res2000")
        assert found is not None and found.username == "Res2000"
        await repo.add_user("res2000", "admin", None, "y")
        assert {u.username for u in await repo.list_users()} == {"Res2000", "res2000"}
