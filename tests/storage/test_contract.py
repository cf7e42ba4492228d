"""One contract for the Repository, run against SQLite and the real MariaDB: same calls, same results."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from did_failover.errors import InputError, SchemaMismatch, StorageUnavailable
from did_failover.storage import (
    SCHEMA_VERSION,
    CallRecord,
    DIDRoute,
    Repository,
    TransferRow,
    open_repository,
)
from did_failover.storage import sqlite as sqlite_storage
from did_failover.storage.records import Attempt
from tests.support.db import dump, execute, mysql_connect


@pytest.fixture
async def repo(repo_url: str) -> AsyncIterator[Repository]:
    """An open repository on a freshly initialised database."""
    async with open_repository(repo_url, 5.0) as repository:
        await repository.init_schema()
        yield repository


@pytest.fixture
async def filled(repo: Repository) -> Repository:
    """Two resellers, a customer of each, an admin-owned customer and one DID each."""
    await repo.add_account("100", "Reseller A", "reseller", None)
    await repo.add_account("200", "Reseller B", "reseller", None)
    await repo.add_account("1001", "Customer A1", "customer", "100")
    await repo.add_account("2001", "Customer B1", "customer", "200")
    await repo.add_account("3001", "Direct customer", "customer", None)
    await repo.add_did("15550001", "1001", "pstn:+4930111", 30, 0)
    await repo.add_did("15550002", "2001", "endpoint:desk-2", 20, 2)
    await repo.add_did("15550003", "3001", "sip:carol@pbx.example.com", 40, 0)
    return repo


def _transfer(did: str, **changes: object) -> TransferRow:
    values: dict[str, object] = {
        "did": did,
        "enabled": True,
        "always": None,
        "busy": "pstn:+4930999",
        "no_answer": "sip:vm@voicemail.example.com:5060",
        "unavailable": None,
        "transfer_timeout": 25,
        "caller_id": "did",
        "updated_by": "admin",
    }
    values.update(changes)
    return TransferRow(**values)  # type: ignore[arg-type]


async def test_new_database_has_no_schema_version_until_init(repo_url: str) -> None:
    """schema_version() is None on an empty database (an SQLite file that does not exist is refused
    and not created), SCHEMA_VERSION after init, init twice is harmless."""
    async with open_repository(repo_url, 5.0) as repo:
        if repo_url.startswith("sqlite:///"):
            path = Path(repo_url.removeprefix("sqlite:///"))
            with pytest.raises(
                SchemaMismatch, match=f"SQLite database {path} does not exist: run 'did-failover db init'"
            ):
                await repo.schema_version()
            assert not path.exists()
        else:
            assert await repo.schema_version() is None
        assert await repo.init_schema() == SCHEMA_VERSION
        assert await repo.init_schema() == SCHEMA_VERSION
        assert await repo.schema_version() == SCHEMA_VERSION
    assert dump(repo_url)["schema_version"] == [(1, SCHEMA_VERSION)]


async def test_init_refuses_a_database_with_a_newer_schema(repo: Repository, repo_url: str) -> None:
    """A database written by a newer did-failover is refused, and left as it was."""
    execute(repo_url, "UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    before = dump(repo_url)
    with pytest.raises(StorageUnavailable, match="newer"):
        await repo.init_schema()
    assert dump(repo_url) == before


async def test_using_a_database_without_schema_says_run_db_init(repo_url: str) -> None:
    """Reads on an empty database fail with StorageUnavailable pointing at `db init`."""
    async with open_repository(repo_url, 5.0) as repo:
        with pytest.raises(StorageUnavailable, match="db init"):
            await repo.get_route("15550001")


async def test_accounts_are_created_listed_and_updated(filled: Repository) -> None:
    """Accounts round-trip; a reseller's list holds only its customers; updates change only given fields."""
    customer = await filled.get_account("1001")
    assert customer is not None
    assert (customer.name, customer.type, customer.reseller) == ("Customer A1", "customer", "100")
    assert customer.active and customer.transfer_enabled
    assert customer.created_at.tzinfo is UTC
    assert [a.number for a in await filled.list_accounts()] == ["100", "1001", "200", "2001", "3001"]
    assert [a.number for a in await filled.list_accounts(reseller="100")] == ["1001"]
    updated = await filled.update_account("1001", transfer_enabled=False)
    assert (updated.name, updated.active, updated.transfer_enabled) == ("Customer A1", True, False)
    renamed = await filled.update_account("1001", name="Renamed", active=False)
    assert (renamed.name, renamed.active, renamed.transfer_enabled) == ("Renamed", False, False)
    assert await filled.get_account("9999") is None


async def test_refused_account_writes_change_nothing(filled: Repository, repo_url: str) -> None:
    """A duplicate number, an unknown reseller or an unknown account raises InputError, data untouched."""
    before = dump(repo_url)
    with pytest.raises(InputError):
        await filled.add_account("1001", "Again", "customer", None)
    with pytest.raises(InputError, match="account 999 not found"):
        await filled.add_account("1009", "Orphan", "customer", "999")
    with pytest.raises(InputError, match="account 9999 not found"):
        await filled.update_account("9999", name="Ghost")
    assert dump(repo_url) == before


async def test_dids_are_created_listed_updated_with_or_without_plus(filled: Repository) -> None:
    """DIDs are stored as digits; lookups accept a leading +; lists filter by account and reseller."""
    did = await filled.get_did("+15550001")
    assert did is not None
    assert (did.number, did.account, did.primary, did.ring_timeout, did.max_channels) == (
        "15550001",
        "1001",
        "pstn:+4930111",
        30,
        0,
    )
    assert [d.number for d in await filled.list_dids()] == ["15550001", "15550002", "15550003"]
    assert [d.number for d in await filled.list_dids(account="2001")] == ["15550002"]
    assert [d.number for d in await filled.list_dids(reseller="100")] == ["15550001"]
    assert await filled.list_dids(account="2001", reseller="100") == []
    moved = await filled.update_did("+15550001", account="3001", ring_timeout=45, active=False)
    assert (moved.account, moved.ring_timeout, moved.active, moved.primary) == (
        "3001",
        45,
        False,
        "pstn:+4930111",
    )


async def test_known_dids_names_the_dids_among_numbers_of_every_account(filled: Repository) -> None:
    """Which numbers are DIDs, whoever owns them, with or without +, past one batch of 500."""
    numbers = [f"1555{n:04d}" for n in range(1200)] + ["+15550003", "4930111"]
    assert await filled.known_dids(numbers) == {"15550001", "15550002", "15550003"}
    assert await filled.known_dids([]) == set()


async def test_refused_did_writes_change_nothing(filled: Repository, repo_url: str) -> None:
    """Duplicate DID, unknown account, unknown DID, out-of-range values: InputError, data untouched."""
    before = dump(repo_url)
    with pytest.raises(InputError):
        await filled.add_did("+15550001", "1001", "pstn:123", 30, 0)
    with pytest.raises(InputError, match="account 9 not found"):
        await filled.add_did("15559999", "9", "pstn:123", 30, 0)
    with pytest.raises(InputError, match="DID 15559999 not found"):
        await filled.update_did("15559999", ring_timeout=20)
    with pytest.raises(InputError, match="account 9 not found"):
        await filled.update_did("15550001", account="9")
    with pytest.raises(InputError):
        await filled.update_did("15550001", ring_timeout=0)
    with pytest.raises(InputError):
        await filled.add_did("15559999", "1001", "pstn:123", 301, 0)
    assert dump(repo_url) == before


async def test_route_of_a_did_without_transfer_settings_has_transfer_off(filled: Repository) -> None:
    """get_route joins DID and account; no transfer row means off, no destinations, timeout 30, keep."""
    route = await filled.get_route("+15550002")
    assert route == DIDRoute(
        did="15550002",
        did_active=True,
        account_number="2001",
        account_active=True,
        account_transfer=True,
        primary="endpoint:desk-2",
        ring_timeout=20,
        max_channels=2,
        transfer_enabled=False,
        always=None,
        busy=None,
        no_answer=None,
        unavailable=None,
        transfer_timeout=30,
        caller_id="keep",
    )
    assert await filled.get_route("15559999") is None


async def test_route_carries_transfer_settings_and_account_switch(filled: Repository) -> None:
    """After set_transfer and an account switched off, get_route reports both."""
    await filled.set_transfer(_transfer("15550001"))
    await filled.update_account("1001", transfer_enabled=False, active=False)
    await filled.update_did("15550001", active=False)
    route = await filled.get_route("15550001")
    assert route is not None
    assert (route.did_active, route.account_active, route.account_transfer) == (False, False, False)
    assert route.transfer_enabled is True
    assert (route.always, route.busy, route.no_answer, route.unavailable) == (
        None,
        "pstn:+4930999",
        "sip:vm@voicemail.example.com:5060",
        None,
    )
    assert (route.transfer_timeout, route.caller_id) == (25, "did")


async def test_set_transfer_replaces_the_previous_settings(filled: Repository) -> None:
    """A second set_transfer replaces the row; get_transfer and list_transfers show it."""
    await filled.set_transfer(_transfer("15550001"))
    await filled.set_transfer(_transfer("+15550001", busy=None, always="endpoint:desk-9", enabled=False))
    row = await filled.get_transfer("15550001")
    assert row is not None
    assert (row.enabled, row.always, row.busy, row.updated_by) == (False, "endpoint:desk-9", None, "admin")
    assert row.updated_at is not None
    assert [t.did for t in await filled.list_transfers()] == ["15550001"]
    assert await filled.list_transfers(reseller="200") == []
    assert await filled.get_transfer("15550002") is None


async def test_set_transfers_is_all_or_nothing(filled: Repository, repo_url: str) -> None:
    """One unknown DID in a batch leaves every other row of the batch unapplied."""
    before = dump(repo_url)
    with pytest.raises(InputError, match="DID 15559999 not found"):
        await filled.set_transfers([_transfer("15550001"), _transfer("15550002"), _transfer("15559999")])
    assert dump(repo_url) == before
    await filled.set_transfers([_transfer("15550001"), _transfer("15550002")])
    assert len(dump(repo_url)["did_transfers"]) == 2


async def test_remove_did_removes_its_transfer_settings(filled: Repository, repo_url: str) -> None:
    """Removing a DID leaves no transfer row behind; removing it again reports False."""
    await filled.set_transfer(_transfer("15550001"))
    assert await filled.remove_did("+15550001") is True
    assert await filled.get_did("15550001") is None
    assert dump(repo_url)["did_transfers"] == []
    assert await filled.remove_did("15550001") is False


async def test_call_log_keeps_history_of_a_removed_did(filled: Repository, repo_url: str) -> None:
    """insert_call writes one row, which survives the removal of its DID."""
    started = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    await filled.insert_call(
        CallRecord(
            started_at=started,
            did="15550001",
            result="transferred",
            account_number="1001",
            caller="+4940123",
            primary_destination="pstn:+4930111",
            primary_dialstatus="BUSY",
            transfer_condition="busy",
            transfer_destination="pstn:+4930999",
            transfer_dialstatus="ANSWER",
            leg="transfer",
            billsec=12,
            uniqueid="1735787045.1",
        )
    )
    await filled.remove_did("15550001")
    rows = dump(repo_url)["call_log"]
    assert len(rows) == 1
    assert rows[0][2] == "15550001"
    assert str(rows[0][1]).startswith("2025-01-02 03:04:05.678")


async def test_blocked_write_times_out_as_storage_unavailable(filled: Repository, repo_url: str) -> None:
    """A write waiting on another session's lock longer than the timeout raises StorageUnavailable."""
    async with open_repository(repo_url, 0.5) as impatient:
        if repo_url.startswith("sqlite:///"):
            holder = sqlite3.connect(repo_url.removeprefix("sqlite:///"), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            release = holder.rollback
        else:
            conn = mysql_connect(repo_url)
            conn.begin()
            with conn.cursor() as cur:
                cur.execute("SELECT * FROM accounts WHERE number = '1001' FOR UPDATE")
            release = conn.rollback
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(StorageUnavailable):
                await impatient.update_account("1001", name="Blocked")
            assert asyncio.get_running_loop().time() - started < 5
        finally:
            release()
        # The repository recovers once the lock is gone.
        assert (await impatient.update_account("1001", name="Free")).name == "Free"


async def test_unreachable_databases_raise_storage_unavailable(tmp_path: object) -> None:
    """A refused MySQL port or an unopenable SQLite path raise StorageUnavailable, not a driver error."""
    with pytest.raises(StorageUnavailable):
        async with open_repository("mysql://root@127.0.0.1:1/nothing", 1.0) as repo:
            await repo.get_route("123")
    with pytest.raises(StorageUnavailable):
        async with open_repository(f"sqlite:///{tmp_path}/no/such/dir/x.db", 1.0) as repo:
            await repo.get_route("123")


def test_bad_database_urls_are_input_errors() -> None:
    """Malformed URLs are refused before any connection attempt."""
    for url in ("postgres://x/y", "mysql://127.0.0.1:3306/", "mysql://h:99999/db", "sqlite:///"):
        with pytest.raises(InputError, match="database_url"):
            open_repository(url, 1.0)


def _call(started: datetime, did: str, account: str, caller: str) -> CallRecord:
    return CallRecord(started_at=started, did=did, result="ANSWERED", account_number=account, caller=caller)


async def test_call_history_lists_newest_first_with_filters_and_reseller_scope(filled: Repository) -> None:
    """list_calls filters by DID, account, start time and reseller, newest first, up to the limit."""
    base = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    await filled.insert_calls(
        [
            _call(base, "15550001", "1001", "a"),
            _call(base.replace(hour=13), "15550002", "2001", "b"),
            _call(base.replace(hour=14), "15550001", "1001", "c"),
            _call(base.replace(hour=15), "15550003", "3001", "d"),
        ]
    )
    assert [c.caller for c in await filled.list_calls()] == ["d", "c", "b", "a"]
    assert [c.caller for c in await filled.list_calls(did="+15550001")] == ["c", "a"]
    assert [c.caller for c in await filled.list_calls(account="2001")] == ["b"]
    assert [c.caller for c in await filled.list_calls(reseller="100")] == ["c", "a"]
    assert [c.caller for c in await filled.list_calls(since=base.replace(hour=13, minute=30))] == ["d", "c"]
    assert [c.caller for c in await filled.list_calls(limit=1)] == ["d"]
    (newest,) = await filled.list_calls(limit=1)
    assert newest.started_at == base.replace(hour=15)


async def test_retention_deletes_old_calls_in_batches(filled: Repository) -> None:
    """delete_calls_before removes at most `limit` of the calls older than the cutoff per call."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    await filled.insert_calls([_call(base.replace(day=d), "15550001", "1001", str(d)) for d in range(1, 11)])
    cutoff = base.replace(day=8)
    assert await filled.delete_calls_before(cutoff, 4) == 4
    assert await filled.delete_calls_before(cutoff, 4) == 3
    assert await filled.delete_calls_before(cutoff, 4) == 0
    assert sorted(int(c.caller or 0) for c in await filled.list_calls()) == [8, 9, 10]


@pytest.mark.parametrize("variable_limit", [None, 999])
async def test_a_large_batch_of_calls_is_written_whole_and_field_for_field(
    filled: Repository, monkeypatch: pytest.MonkeyPatch, variable_limit: int | None
) -> None:
    """5,000 rows (several multi-row statements on SQLite, and more of them under the 999-parameter
    limit of SQLite before 3.32) in one call: every row, every field, once."""
    if variable_limit is not None:
        monkeypatch.setattr(sqlite_storage, "_MAX_VARIABLES", variable_limit)
    base = datetime(2026, 2, 1, tzinfo=UTC)
    rows = [
        CallRecord(
            started_at=base + timedelta(seconds=i),
            did="15550001",
            result="ANSWERED" if i % 2 else "BUSY",
            account_number="1001",
            caller=str(i),
            primary_destination="endpoint:desk",
            primary_dialstatus="BUSY",
            transfer_condition="BUSY" if i % 2 else None,
            transfer_destination="pstn:+15557654321" if i % 2 else None,
            transfer_dialstatus="ANSWER" if i % 2 else None,
            leg="BUSY" if i % 2 else "PRIMARY",
            answered_at=base + timedelta(seconds=i, milliseconds=250) if i % 2 else None,
            ended_at=base + timedelta(seconds=i + 30),
            hangup_cause=16,
            billsec=29 if i % 2 else None,
            uniqueid=f"1795757547.{i}",
            attempts=(
                (
                    Attempt("PRIMARY", 0, "endpoint:desk", "BUSY"),
                    Attempt("BUSY", 1, "pstn:+15557654321", "ANSWER"),
                )
                if i % 2
                else (Attempt("PRIMARY", 0, "endpoint:desk"),)
            ),
        )
        for i in range(5000)
    ]
    await filled.insert_calls(rows)
    stored = await filled.list_calls(limit=10_000)
    assert len(stored) == 5000
    assert sorted(stored, key=lambda c: int(c.caller or 0)) == rows
