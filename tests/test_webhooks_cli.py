# ruff: noqa: E501 - tables of refusals: one line per case reads better than wrapped ones
"""`did-failover webhook add|list|remove|test|rotate` as a sysadmin types them, on both back ends, with a real
receiver process for the ping."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.plugins.webhooks import StartReceiver
from tests.support.db import dump
from tests.support.incli import Result, Run, in_process_cli, ok


@pytest.fixture
def cli(repo_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    monkeypatch.setenv("DID_FAILOVER_WEBHOOK_ALLOW", "127.0.0.0/8")
    monkeypatch.setenv("DID_FAILOVER_WEBHOOK_TIMEOUT", "2")
    run = in_process_cli(repo_url, monkeypatch, capsys)
    ok(run("db", "init"))
    ok(run("account", "add", "100", "--name", "Reseller A", "--type", "reseller"))
    ok(run("account", "add", "200", "--name", "Reseller B", "--type", "reseller"))
    return run


async def test_add_list_test_remove(cli: Run, receiver: StartReceiver) -> None:
    """The commands in a thread of their own (each runs its own event loop, as from a shell)."""

    async def run(*argv: str) -> Result:
        return await asyncio.to_thread(cli, *argv)

    target = await receiver()
    added = ok(await run("webhook", "add", target.url(), "--events", "call.ended,change.made"))
    first, second = added.out.splitlines()
    assert first == (
        f"webhook 1 added: call.ended, change.made events of every account's calls and changes to {target.url()}"
    )
    secret = second.rsplit(" ", 1)[1]
    assert second.startswith("signing secret (shown this once") and secret.startswith("whsec_")
    target.trust(secret)
    theirs = ok(
        await run("webhook", "add", target.url("/b"), "--events", "change.made", "--as-reseller", "200")
    )
    assert "reseller 200's customers'" in theirs.out
    listed = ok(await run("webhook", "list")).out.splitlines()
    assert listed[0].split() == [
        "ID",
        "URL",
        "EVENTS",
        "OWNER",
        "STATUS",
        "BEHIND",
        "OLDEST",
        "UNDELIVERED",
        "LAST",
        "ERROR",
    ]
    assert listed[1].split()[:6] == ["1", target.url(), "call.ended,change.made", "admin", "ok", "0"]
    assert listed[2].split()[3] == "200"
    assert secret not in "\n".join(listed)
    as_json = json.loads(ok(await run("webhook", "list", "--json")).out)
    assert [h["owner"] for h in as_json] == ["admin", "200"] and all("secret" not in h for h in as_json)
    assert [
        h["id"] for h in json.loads(ok(await run("webhook", "list", "--json", "--as-reseller", "100")).out)
    ] == []
    assert ok(await run("webhook", "test", "1")).out == f"webhook 1: {target.url()} took the ping\n"
    assert target.records()[-1]["verified"] and target.records()[-1]["body"]["type"] == "ping"
    # another reseller's webhook does not exist for reseller 100
    for command in ("test", "rotate", "remove"):
        refused = await run("webhook", command, "2", "--as-reseller", "100")
        assert (refused.code, refused.err) == (2, "did-failover: error: webhook 2 not found\n")
    rotated = ok(await run("webhook", "rotate", "1")).out.splitlines()
    new_secret = rotated[0].rsplit(" ", 1)[1]
    assert rotated[0].startswith("webhook 1: new signing secret (shown this once") and new_secret != secret
    assert (
        rotated[1].startswith("requests are signed with the old secret too until 20") and "UTC" in rotated[1]
    )
    assert new_secret not in ok(await run("webhook", "list", "--json")).out
    assert ok(await run("webhook", "test", "1")).out.endswith("took the ping\n")  # the old secret verifies
    target.trust(new_secret)
    assert ok(await run("webhook", "test", "1")).out.endswith("took the ping\n")  # and so does the new
    assert all(r["verified"] for r in target.records())
    assert ok(await run("webhook", "remove", "2", "--as-reseller", "200")).out.startswith("webhook 2 removed")
    await target.stop()
    failed = await run("webhook", "test", "1")
    assert failed.code == 1 and failed.err.startswith(
        f"did-failover: error: webhook 1: the ping to {target.url()} failed: cannot connect"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ftp://127.0.0.1/x", "--events", "call.ended"), "URL: must start with http:// or https://"),
        (("http://192.168.1.10/x", "--events", "call.ended"), "URL: 192.168.1.10 is a private address; webhooks reach only public addresses unless DID_FAILOVER_WEBHOOK_ALLOW names its network"),
        (("http://127.0.0.1/x", "--events", "call.ended,calls"), "--events: unknown event 'calls': the events are call.ended, change.made"),
        (("http://127.0.0.1/x", "--events", "call.ended", "--as-reseller", "999"), "--as-reseller: there is no reseller account 999"),
        (("http://127.0.0.1:99999/x", "--events", "call.ended"), "URL: has a port that is not a number 1..65535"),
    ],
)  # fmt: skip
def test_refusals_name_the_argument(cli: Run, repo_url: str, args: tuple[str, ...], message: str) -> None:
    before = dump(repo_url)
    refused = cli("webhook", "add", *args)
    assert refused.code == 2 and refused.err.startswith(f"did-failover: error: {message}"), refused
    assert refused.err.count("\n") == 1
    assert dump(repo_url) == before
