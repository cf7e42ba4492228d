"""Forward lists, voicemail and business hours from the CLI, as a sysadmin sets them up: `transfer
set` with lists, `schedule set/show/remove`, CSV, and `simulate --at`, on SQLite and MariaDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.db import dump
from tests.support.incli import Run, in_process_cli, ok

DID = "15550001"
BUSY_LIST = "pstn:+15551230001/20,pstn:+15551230002,voicemail:100"
"""Busy: the mobile for 20 s, the office for the transfer timeout, then voicemail."""


@pytest.fixture
def cli(repo_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI in-process against the test database, with one customer and one DID."""
    run = in_process_cli(repo_url, monkeypatch, capsys)
    ok(run("db", "init"))
    ok(run("account", "add", "1001", "--name", "Customer", "--type", "customer"))
    ok(run("did", "add", DID, "--account", "1001", "--primary", "endpoint:desk", "--ring-timeout", "20"))
    return run


def test_a_busy_list_to_voicemail_and_an_after_hours_on_call(cli: Run) -> None:
    """The README's walk-through: busy -> mobile -> office -> voicemail, and after 18:00 -> on call."""
    assert ok(cli("transfer", "set", DID, "--busy", BUSY_LIST, "--timeout", "15")).out == (
        f"transfer of DID {DID} updated: on\n"
    )
    out = ok(
        cli(
            "schedule",
            "set",
            DID,
            "--zone",
            "Europe/Paris",
            "--open",
            "mon-fri 09:00-18:00",
            "--closed",
            "2026-12-25",
            "--after-hours",
            "pstn:+15559990000",
        )
    ).out
    assert out == f"schedule of DID {DID} set: Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25\n"
    shown = json.loads(ok(cli("transfer", "show", DID, "--json")).out)
    assert (shown["busy"], shown["after_hours"], shown["schedule"]) == (
        BUSY_LIST,
        "pstn:+15559990000",
        "Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25",
    )
    lines = ok(cli("transfer", "show", DID)).out.splitlines()
    assert f"busy:             {BUSY_LIST}" in lines and "after hours:      pstn:+15559990000" in lines
    schedule = ok(cli("schedule", "show", DID)).out.splitlines()
    assert schedule[:5] == [
        f"DID:         {DID}",
        "time zone:   Europe/Paris",
        "open:        mon-fri 09:00-18:00",
        "closed:      2026-12-25",
        "after hours: pstn:+15559990000",
    ]
    assert schedule[5].startswith(("now:         open (it is ", "now:         closed (it is "))

    evening = ok(cli("simulate", DID, "--at", "2026-12-23 18:30")).out
    assert "at 2026-12-23 18:30 Europe/Paris" in evening.splitlines()[0]
    assert "dial    PJSIP/+15559990000@pstn,15 -> ANSWER" in evening
    assert "set     REDIRECTING(reason,i)=unconditional" in evening and "PJSIP/desk" not in evening
    assert evening.splitlines()[-1] == "result: ANSWERED (last leg dialled: AFTER_HOURS)"

    morning = ok(
        cli(
            "simulate",
            DID,
            "--at",
            "2026-12-23 10:00",
            "--primary-status",
            "BUSY",
            "--transfer-status",
            "BUSY,NOANSWER",
        )
    ).out
    dials = [
        line.split(None, 1)[1] for line in morning.splitlines() if line.startswith(("  dial", "  voicemail"))
    ]
    assert dials == [
        "PJSIP/desk,20 -> BUSY (cause 17, user busy)",
        "PJSIP/+15551230001@pstn,20 -> BUSY (cause 17, user busy)",
        "PJSIP/+15551230002@pstn,15 -> NOANSWER (cause 19, no answer)",
        "100@default,b -> VMSTATUS SUCCESS",
    ]
    assert "set     DID_FAILOVER_STEP=3" in morning
    assert morning.splitlines()[-1] == "result: VOICEMAIL (last leg dialled: BUSY)"
    christmas = ok(cli("simulate", DID, "--at", "2026-12-25 10:00")).out
    assert christmas.splitlines()[-1] == "result: ANSWERED (last leg dialled: AFTER_HOURS)"

    assert ok(cli("schedule", "remove", DID)).out == f"schedule of DID {DID} removed: always open\n"
    assert json.loads(ok(cli("transfer", "show", DID, "--json")).out)["schedule"] is None
    assert ok(cli("schedule", "show", DID)).out.splitlines()[-1] == "now:         open (no schedule)"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["transfer", "set", DID, "--busy", "pstn:+15551230001/100,pstn:+15551230002/70"],
            "a caller could ring 190 s through the primary (20 s) and then a forward list (170 s),"
            " more than DID_FAILOVER_MAX_RING_TOTAL (180 s): shorten the list or its ring timeouts",
        ),
        (
            ["transfer", "set", DID, "--always", ",".join(["pstn:+15551230001/40"] * 5)],
            "a caller could ring 200 s through the always list",
        ),
        (
            ["transfer", "set", DID, "--busy", "voicemail:100,pstn:+15551230001"],
            "--busy item 1: voicemail is a final step",
        ),
        (["transfer", "set", DID, "--busy", "pstn:+15551230001/0"], "--busy: '0' is not a ring timeout"),
        (
            ["did", "set", DID, "--primary", "voicemail:100"],
            "--primary: voicemail is the final step of a forward list",
        ),
        (
            ["schedule", "set", DID, "--zone", "Europe/Pariss"],
            "schedule: 'Europe/Pariss' is not an IANA time zone",
        ),
        (["simulate", DID, "--at", "tomorrow"], "--at: 'tomorrow' is not a date and time"),
        (["simulate", DID, "--transfer-status", "BUSY,MAYBE"], "--transfer-status: 'MAYBE' is not one of"),
    ],
)
def test_refused_lists_and_schedules_exit_2_with_one_line(
    cli: Run, repo_url: str, argv: list[str], message: str
) -> None:
    """Each refusal: exit 2, one line naming what is wrong, nothing stored."""
    before = dump(repo_url)
    result = cli(*argv)
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert message in result.err
    assert dump(repo_url) == before


def test_a_longer_primary_ring_is_refused_when_it_would_pass_the_bound(
    cli: Run, repo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound covers the primary too: a ring timeout that takes a list over it is refused; a higher
    DID_FAILOVER_MAX_RING_TOTAL allows it."""
    ok(cli("transfer", "set", DID, "--busy", "pstn:+15551230001/80,pstn:+15551230002/80"))
    before = dump(repo_url)
    refused = cli("did", "set", DID, "--ring-timeout", "30")
    assert refused.code == 2 and "a caller could ring 190 s" in refused.err
    assert dump(repo_url) == before
    monkeypatch.setenv("DID_FAILOVER_MAX_RING_TOTAL", "200")
    ok(cli("did", "set", DID, "--ring-timeout", "30"))


def test_csv_carries_lists_after_hours_and_schedules(cli: Run, repo_url: str, tmp_path: Path) -> None:
    """Export and import round-trip the new columns; a file from before them keeps the DID's values."""
    ok(cli("transfer", "set", DID, "--busy", BUSY_LIST, "--after-hours", "pstn:+15559990000"))
    ok(cli("schedule", "set", DID, "--zone", "America/New_York", "--open", "mon-fri 08:00-17:00"))
    exported = tmp_path / "export.csv"
    ok(cli("transfer", "export", str(exported)))
    header, row = exported.read_text().splitlines()
    assert header.endswith(",status,after_hours,schedule")
    assert row == (
        f'{DID},1001,endpoint:desk,,"{BUSY_LIST}",,,30,keep,on,pstn:+15559990000,'
        "America/New_York; mon-fri 08:00-17:00"
    )
    ok(cli("transfer", "set", DID, "--busy", "none", "--after-hours", "none"))
    ok(cli("transfer", "import", str(exported)))
    again = tmp_path / "again.csv"
    ok(cli("transfer", "export", str(again)))
    assert again.read_text() == exported.read_text()

    old = tmp_path / "old.csv"
    old.write_text(
        "did,account,primary,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
        f"{DID},1001,endpoint:desk,,pstn:+4930777,,,30,keep,on\n"
    )
    ok(cli("transfer", "import", str(old)))
    shown = json.loads(ok(cli("transfer", "show", DID, "--json")).out)
    assert (shown["busy"], shown["after_hours"], shown["schedule"]) == (
        "pstn:+4930777",
        "pstn:+15559990000",
        "America/New_York; mon-fri 08:00-17:00",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(exported.read_text().replace("mon-fri 08:00-17:00", "mon-fri 8-5"))
    before = dump(repo_url)
    refused = cli("transfer", "import", str(bad))
    assert refused.code == 2 and "line 2: schedule: 'mon-fri 8-5'" in refused.err
    assert dump(repo_url) == before
