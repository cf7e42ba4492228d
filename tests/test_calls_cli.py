"""`did-failover calls` and the history writer's retention, on a real SQLite database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from did_failover.calls.history import HistoryWriter
from did_failover.main import main
from did_failover.storage import CallRecord, open_repository
from did_failover.storage.records import Attempt


@pytest.fixture
async def history(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A reseller 100 with customer 1001, customer 3001 of the admin, and three calls."""
    monkeypatch.setenv("DID_FAILOVER_DATABASE_URL", sqlite_url)
    async with open_repository(sqlite_url, 5.0) as repo:
        await repo.init_schema()
        await repo.add_account("100", "Reseller", "reseller", None)
        await repo.add_account("1001", "Customer", "customer", "100")
        await repo.add_account("3001", "Direct", "customer", None)
        now = datetime.now(UTC)
        await repo.insert_calls(
            [
                CallRecord(now - timedelta(days=3), "15550001", "ANSWERED", "1001", "111", billsec=42),
                CallRecord(now - timedelta(hours=1), "15550001", "BUSY", "1001", "222"),
                CallRecord(
                    now - timedelta(minutes=5),
                    "15550003",
                    "NOANSWER",
                    "3001",
                    "333",
                    attempts=(
                        Attempt("PRIMARY", 0, "endpoint:desk", "NOANSWER"),
                        Attempt("NOANSWER", 1, "pstn:+15557654321", "NOANSWER"),
                    ),
                ),
            ]
        )
    return sqlite_url


async def test_calls_lists_newest_first_and_filters(history: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The table shows the newest first; --since, --did and --limit narrow it."""
    code, out, _ = await _run(capsys, "--json")
    assert code == 0 and [c["caller"] for c in json.loads(out)] == ["333", "222", "111"]
    # `legs` is the call log's text, as it was before attempts were records; none: null
    assert [c["legs"] for c in json.loads(out)] == [
        "PRIMARY endpoint:desk NOANSWER|NOANSWER#1 pstn:+15557654321 NOANSWER",
        None,
        None,
    ]
    assert "attempts" not in json.loads(out)[0]
    code, out, _ = await _run(capsys, "--since", "2h", "--json")
    assert [c["caller"] for c in json.loads(out)] == ["333", "222"]
    code, out, _ = await _run(capsys, "--did", "+15550001", "--limit", "1")
    lines = out.splitlines()
    assert lines[0].startswith("STARTED (UTC)") and len(lines) == 2 and "222" in lines[1]


async def test_reseller_sees_only_its_customers_calls(
    history: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--as-reseller: another customer's calls do not exist; another account is not found."""
    code, out, _ = await _run(capsys, "--as-reseller", "100", "--json")
    assert code == 0 and {c["account_number"] for c in json.loads(out)} == {"1001"}
    code, _, err = await _run(capsys, "--as-reseller", "100", "--account", "3001")
    assert code == 2 and err.strip() == "did-failover: error: account 3001 not found"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is neither an age"),
        (["--limit", "0"], "--limit: 0 is not a number of calls"),
        (["--did", "12ab"], "--did"),
    ],
)
async def test_bad_arguments_are_one_line_exit_2(
    history: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad --since, --limit or --did: one line naming the option, exit code 2."""
    code, _, err = await _run(capsys, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err


async def test_retention_removes_calls_older_than_the_setting(history: str) -> None:
    """With a 2-day retention the 3-day-old call goes, the others stay."""
    async with open_repository(history, 5.0) as repo:
        writer = HistoryWriter(repo, retention_days=2)
        assert await writer.apply_retention(batch=1) == 1
        assert [c.caller for c in await repo.list_calls()] == ["333", "222"]


async def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in a worker thread: it calls asyncio.run itself."""
    code = await asyncio.to_thread(main, ["calls", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def test_calls_of_a_did_are_its_current_owners_unless_every_owner_is_asked(
    history: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """15550001 had calls for 1001; removed and added again for 3001, `calls --did` shows 3001's only
    (none yet); `--every-owner` shows the earlier owner's too, and `--account` still picks one."""
    async with open_repository(history, 5.0) as repo:
        await repo.add_did("15550001", "3001", "endpoint:new-owner", 30, 0)
    code, out, _ = await _run(capsys, "--did", "15550001", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = await _run(capsys, "--did", "15550001", "--every-owner", "--json")
    assert [c["caller"] for c in json.loads(out)] == ["222", "111"]
    code, out, _ = await _run(capsys, "--did", "15550001", "--account", "1001", "--json")
    assert [c["caller"] for c in json.loads(out)] == ["222", "111"]
    # a DID no one owns now (removed): its whole history, as before
    code, out, _ = await _run(capsys, "--did", "15550003", "--json")
    assert [c["caller"] for c in json.loads(out)] == ["333"]
