"""Dial-string injection: every destination field through the CLI (refused, exit 2, database unchanged)
and written into the database by hand, then a real call through Asterisk: nothing of it reaches Dial."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from did_failover.cli.main import main
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
CLI_PAYLOADS = {**PAYLOADS, "over 255 characters": "sip:" + "a" * 300 + "@127.0.0.1"}

FIELDS = ("primary", "always", "busy", "no_answer", "unavailable")
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
                one_line = (
                    err.startswith(f"did-failover: error: {option}: ") and len(err.strip().splitlines()) == 1
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


def _hand_edit(url: str, did: str, field: str, payload: str) -> None:
    if field == "primary":
        execute(url, "UPDATE dids SET primary_destination = ? WHERE number = ?", (payload, did))
    else:
        execute(
            url,
            f"UPDATE did_transfers SET {field}_destination = ? "
            "WHERE did_id = (SELECT id FROM dids WHERE number = ?)",
            (payload, did),
        )
    stored = execute(
        url,
        f"SELECT {'d.primary_destination' if field == 'primary' else 't.' + field + '_destination'} "
        "FROM dids d JOIN did_transfers t ON t.did_id = d.id WHERE d.number = ?",
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
}


@pytest.fixture
async def agi_server(repo_url: str) -> AsyncIterator[Server]:
    """The real server on the test bed's AGI port over the test database (no cache)."""
    config = Settings(database_url=repo_url, listen=f"127.0.0.1:{AGI_PORT}", cache_ttl=0, grace_period=1)
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
    """Every payload class written by SQL into a destination column (each field in turn), then a real
    call: DID_FAILOVER_RESULT=ERROR with AGISTATUS=FAILURE, and Asterisk dials nothing but the legitimate
    primary: no DialBegin and no `AGI Rx << EXEC Dial` line carries the payload."""
    repo = open_repository(repo_url, 2.0)
    cases = []
    for (name, payload), field in zip(PAYLOADS.items(), itertools.cycle(FIELDS)):
        did = str(next(_dids))
        primary, _ = _SETUP[field]
        # Every other condition has a good destination; the poisoned one is the one the call needs.
        others = {f: "endpoint:answer" for f in ("busy", "no_answer", "unavailable")}
        if field != "primary":
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
    agi_dials = [line for line in log.splitlines() if "AGI Rx << EXEC Dial" in line]
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
