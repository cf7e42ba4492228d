"""Dial-string injection: every destination field through the CLI (refused, exit 2, database unchanged)
and written into the database by hand, then a real call through Asterisk: nothing of it reaches Dial."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from did_failover.main import main
from did_failover.runtime.app import App
from did_failover.settings import Settings
from did_failover.storage import open_repository
from fastagi.client import environment
from fastagi.server import Server
from tests.reliability.conftest import CUSTOMER, add_did
from tests.support.channels import channel, timed_call
from tests.support.db import dump, execute
from tests.testbed.asterisk import AGI_PORT, Ami, AsteriskTestbed

PAYLOADS = {
    "&": "endpoint:answer&PJSIP/mallory",
    ",": "pstn:15550001234,60,G(mallory)",
    "|": "endpoint:answer|PJSIP/mallory",
    ")": "sip:answer)mallory@127.0.0.1",
    "(": "sip:answer(mallory@127.0.0.1",
    '"': 'endpoint:answer"mallory',
    "\\": "endpoint:answer\\,mallory",
    "newline": "endpoint:answer\nEXEC Dial PJSIP/mallory",
    "NUL": "endpoint:answer\0mallory",
    "${...}": "pstn:1555${SHELL(mallory)}",
    "$[...]": "sip:$[mallory]@127.0.0.1",
    "over-long": "pstn:1555000" + "1" * 243,  # 255 characters: the column's width, far past 20 digits
    "non-ASCII": "endpoint:ånswer-mallory",
}
"""One attempt per class; each would change what Dial does if it reached it."""
LIST_PAYLOADS = {
    "second item": "endpoint:answer,endpoint:answer&PJSIP/mallory",
    "timeout": "endpoint:answer/30,G(mallory)",
    "timeout text": "endpoint:answer/3${SHELL(mallory)}",
    "voicemail options": "voicemail:100,b(mallory)",
    "voicemail &": "voicemail:100&mallory",
    "voicemail not last": "voicemail:100,endpoint:mallory",
    "six items": ",".join(["endpoint:answer"] * 5 + ["endpoint:mallory"]),
}
"""Forward lists whose first item is good and a later part is not: the whole list is refused."""
CLI_PAYLOADS = {**PAYLOADS, **LIST_PAYLOADS, "over 255 characters": "sip:" + "a" * 300 + "@127.0.0.1"}
SCHEDULE_PAYLOADS = {
    "zone path": "../../../etc/passwd; mon-fri 09:00-17:00",
    "expression": "UTC; mon-fri 09:00-17:00${SHELL(mallory)}",
    "newline": "UTC; mon-fri 09:00-17:00\nEXEC Dial PJSIP/mallory",
    "bad day": "UTC; mallory 09:00-17:00",
    "NUL": "UTC\0; mon 09:00-10:00",
}
"""Schedule texts written by hand: none can be evaluated, so the call is refused (ERROR) before any Dial."""

FIELDS = ("primary", "always", "busy", "no_answer", "unavailable", "after_hours")
_dids = itertools.count(15553400000)


# -- the CLI --------------------------------------------------------------------------------------------


def _cli(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def _commands(field: str, payload: str) -> list[list[str]]:
    if field == "primary":
        return [
            ["did", "add", "15553399999", "--account", CUSTOMER, "--primary", payload],
            ["did", "set", "15553300000", "--primary", payload],
        ]
    return [["transfer", "set", "15553300000", f"--{field.replace('_', '-')}", payload]]


def test_cli_refuses_every_injection_in_every_destination_field(
    repo_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    figures: Callable[..., None],
) -> None:
    """Each payload class in each destination option: exit 2, one error line naming the option, and the
    database byte for byte as before."""
    monkeypatch.setenv("DID_FAILOVER_DATABASE_URL", repo_url)
    assert _cli("db", "init") == 0
    assert _cli("account", "add", CUSTOMER, "--name", "Customer", "--type", "customer") == 0
    assert _cli("did", "add", "15553300000", "--account", CUSTOMER, "--primary", "endpoint:answer") == 0
    assert _cli("transfer", "set", "15553300000", "--busy", "endpoint:busy") == 0
    before = dump(repo_url)
    capsys.readouterr()
    attempts, accepted = 0, []
    changed = 0
    for field in FIELDS:
        option = "--primary" if field == "primary" else f"--{field.replace('_', '-')}"
        for name, payload in CLI_PAYLOADS.items():
            for argv in _commands(field, payload):
                attempts += 1
                code = _cli(*argv)
                err = capsys.readouterr().err
                # The message names the option, and the item of a list when the list has several.
                one_line = (
                    re.match(rf"did-failover: error: {option}( item [0-9])?: ", err) is not None
                    and len(err.strip().splitlines()) == 1
                )
                if code != 2 or not one_line:
                    accepted.append((field, name, argv, code, err))
                if dump(repo_url) != before:
                    changed += 1
                    before = dump(repo_url)
    figures(attempts=attempts, refused=attempts - len(accepted), database_changed=changed)
    assert not accepted, accepted[:3]
    assert changed == 0


# -- a row edited by hand, then a real call -------------------------------------------------------------


def _column(field: str) -> str:
    if field == "primary":
        return "d.primary_destination"
    return "t.schedule" if field == "schedule" else f"t.{field}_destination"


def _hand_edit(url: str, did: str, field: str, payload: str) -> None:
    if field == "primary":
        execute(url, "UPDATE dids SET primary_destination = ? WHERE number = ?", (payload, did))
    else:
        execute(
            url,
            f"UPDATE did_transfers SET {_column(field)[2:]} = ?"
            " WHERE did_id = (SELECT id FROM dids WHERE number = ?)",
            (payload, did),
        )
    stored = execute(
        url,
        f"SELECT {_column(field)} FROM dids d JOIN did_transfers t ON t.did_id = d.id WHERE d.number = ?",
        (did,),
    )
    assert stored == [(payload,)], "the database changed the hand-edited value"


# How the primary behaves so that the poisoned field is the one dialled next, and what Dial may see.
_SETUP = {
    "primary": ("endpoint:answer", []),
    "always": ("endpoint:answer", []),
    "busy": ("endpoint:busy", ["busy"]),
    "no_answer": ("endpoint:ring", ["ring"]),
    "unavailable": ("endpoint:unavailable", []),  # no contact: Dial fails before any channel exists
    "after_hours": ("endpoint:answer", []),  # the DID is closed: the after-hours list replaces the primary
    "schedule": ("endpoint:answer", []),  # not evaluable: refused before the primary
}
CLOSED = "UTC; closed 2000-01-01..2999-12-31"


@pytest.fixture
async def agi_server(repo_url: str) -> AsyncIterator[Server]:
    """The real server on the test bed's AGI port over the test database (no cache, a patient
    database timeout)."""
    # A database timeout well above the default: 25 calls at once read the database (no cache) on a
    # loaded 2-core machine, and an ERROR for a slow read would look like the refusal this test wants.
    config = Settings(
        database_url=repo_url, listen=f"127.0.0.1:{AGI_PORT}", cache_ttl=0, grace_period=1, db_timeout=10
    )
    repo = open_repository(repo_url, 2.0)
    await repo.init_schema()
    await repo.add_account(CUSTOMER, "Customer", "customer", None)
    await repo.close()
    server = (await App.build(config)).server
    task = asyncio.create_task(server.serve(install_signals=False))
    await asyncio.wait_for(server.started.wait(), 5)
    yield server
    server.request_stop()
    await asyncio.wait_for(task, 10)


async def test_hand_edited_rows_reach_no_dial_through_real_asterisk(
    repo_url: str,
    agi_server: Server,
    asterisk: AsteriskTestbed,
    ami: Ami,
    figures: Callable[..., None],
) -> None:
    """Every payload class written by SQL into a destination column (each field in turn), a later item
    of a forward list, or the schedule, then a real call: DID_FAILOVER_RESULT=ERROR with
    AGISTATUS=FAILURE, and Asterisk dials nothing but the legitimate primary: no DialBegin and no
    `AGI Rx << EXEC Dial` (or VoiceMail) line carries the payload."""
    repo = open_repository(repo_url, 2.0)
    cases = []
    poisoned = [
        *zip(PAYLOADS.items(), itertools.cycle(FIELDS), strict=False),
        *zip(LIST_PAYLOADS.items(), itertools.cycle(FIELDS[1:]), strict=False),
        *((item, "schedule") for item in SCHEDULE_PAYLOADS.items()),
    ]
    for (name, payload), field in poisoned:
        did = str(next(_dids))
        primary, _ = _SETUP[field]
        # Every other condition has a good destination; the poisoned one is the one the call needs.
        others: dict[str, str | None] = {f: "endpoint:answer" for f in ("busy", "no_answer", "unavailable")}
        if field in ("after_hours", "schedule"):
            others.update(after_hours="endpoint:answer", schedule=CLOSED)
        elif field != "primary":
            others[field] = "endpoint:answer"
        await add_did(repo, did, primary, ring_timeout=1, **others)
        _hand_edit(repo_url, did, field, payload)
        cases.append((name, field, did))
    await repo.close()

    log_offset = asterisk.log_path.stat().st_size
    await ami.command("agi set debug on")
    try:
        calls = [await ami.originate(did, f"1555350{i:04d}") for i, (_, _, did) in enumerate(cases)]
        outcomes = await asyncio.gather(*(ami.wait_outcome(call, timeout=30) for call in calls))
    finally:
        await ami.command("agi set debug off")
    log = asterisk.log_path.read_text(errors="replace")[log_offset:]
    agi_dials = [
        line for line in log.splitlines() if "AGI Rx << EXEC Dial" in line or "EXEC VoiceMail" in line
    ]
    wrong = []
    for (name, field, _did), call, outcome in zip(cases, calls, outcomes, strict=True):
        dialled = [e.get("DialString") for e in ami.matching("DialBegin", Uniqueid=call.channel_uniqueid)]
        if (outcome.result, outcome.agistatus) != ("ERROR", "FAILURE") or dialled != _SETUP[field][1]:
            wrong.append((name, field, outcome, dialled))
    reaching = [line for line in agi_dials if "mallory" in line or "ånswer" in line or "1555000111" in line]
    reaching += [str(e) for e in ami.matching("DialBegin") if "mallory" in e.get("DialString", "")]
    figures(
        database=repo_url.split(":", 1)[0],
        calls=len(cases),
        correct=len(cases) - len(wrong),
        lost=len(wrong),
        payloads_reaching_dial=len(reaching),
        legitimate_dials=len(agi_dials),
    )
    assert not wrong, wrong
    assert agi_dials, "the AGI debug lines are missing: nothing proves what was sent"
    assert not reaching, reaching
    assert agi_server.counters["error"] == len(cases)


async def test_hand_edited_did_and_account_numbers_reach_no_command(tmp_path: Path) -> None:
    """A DID number or account number edited by hand (`${...}`, commas) goes into no AGI command: the DID
    ends the call with ERROR and failure, the account code is left out."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    repo = open_repository(url, 2.0)
    await repo.init_schema()
    await repo.add_account(CUSTOMER, "Customer", "customer", None)
    await add_did(repo, "15553600001", "endpoint:answer", max_channels=1, busy="endpoint:busy")
    await add_did(repo, "15553600002", "endpoint:busy", max_channels=1, busy="endpoint:answer")
    await repo.close()
    execute(url, "UPDATE dids SET number = '1555${SHELL(mallory)}' WHERE number = '15553600001'")
    execute(url, "UPDATE accounts SET number = '7001,CDR(mallory)=1'")
    config = Settings(database_url=url, listen="127.0.0.1:0", cache_ttl=0, grace_period=1)
    server = (await App.build(config)).server
    await server.startup(install_signals=False)
    try:
        bad_did = await timed_call(
            server.port, environment("did-failover", args=["1555${SHELL(mallory)}"]), channel()
        )
        bad_account = await timed_call(
            server.port, environment("did-failover", args=["15553600002"]), channel("BUSY,17")
        )
    finally:
        await server.shutdown()
    assert bad_did.result == "ERROR" and bad_did.failure
    assert not [c for c in bad_did.commands if "mallory" in c and not c.startswith("VERBOSE")]
    assert bad_account.result == "ANSWERED"
    assert not [c for c in bad_account.commands if "mallory" in c]


def test_cli_refuses_every_bad_schedule(
    repo_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    figures: Callable[..., None],
) -> None:
    """Each bad zone, open range or closure of `schedule set`: exit 2, one `schedule:` error line that
    quotes the rule, and the database byte for byte as before."""
    monkeypatch.setenv("DID_FAILOVER_DATABASE_URL", repo_url)
    assert _cli("db", "init") == 0
    assert _cli("account", "add", CUSTOMER, "--name", "Customer", "--type", "customer") == 0
    assert _cli("did", "add", "15553300000", "--account", CUSTOMER, "--primary", "endpoint:answer") == 0
    before = dump(repo_url)
    capsys.readouterr()
    attempts = [
        ["--zone", "../../../etc/passwd"],
        ["--zone", "Mars/Olympus"],
        ["--zone", "UTC\0"],
        ["--zone", "UTC", "--open", "mon-fri 09:00-17:00${SHELL(mallory)}"],
        ["--zone", "UTC", "--open", "mallory 09:00-17:00"],
        ["--zone", "UTC", "--open", "mon 9-5"],
        ["--zone", "UTC", "--open", "mon 17:00-17:00"],
        ["--zone", "UTC", "--closed", "2026-02-30"],
        ["--zone", "UTC", "--closed", "2026-12-26..2026-12-24"],
        ["--zone", "UTC", "--closed", "2026-12-24 18:00-09:00"],
        ["--zone", "UTC", *itertools.chain.from_iterable(["--open", "mon 09:00-10:00"] for _ in range(51))],
        ["--zone", "UTC", "--open", "mon 09:00-17:00", "--after-hours", "voicemail:1,pstn:15550001234"],
    ]
    accepted = []
    for options in attempts:
        code = _cli("schedule", "set", "15553300000", *options)
        err = capsys.readouterr().err
        one_line = (
            re.match(r"did-failover: error: (schedule|--after-hours item 1): ", err)
            and len(err.splitlines()) == 1
        )
        if code != 2 or not one_line:
            accepted.append((options[:4], code, err))
    changed = dump(repo_url) != before
    figures(attempts=len(attempts), refused=len(attempts) - len(accepted), database_changed=int(changed))
    assert not accepted, accepted
    assert not changed
