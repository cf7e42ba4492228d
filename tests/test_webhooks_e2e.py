"""The issue's "done when", as a new user would try it: the README's example receiver, started as
written, gets a signed `call.ended` for a real call through the Asterisk test bed (a `serve` process
delivering) and a signed `change.made` for a change made on the web page (the `web` process
delivering), the webhook added with the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.plugins.servers import StartServe
from tests.plugins.web import StartSite, csrf_of
from tests.routing.bed import ACCOUNT, callers
from tests.support.db import add_did
from tests.support.examples import ROOT
from tests.support.net import free_port
from tests.support.serve import BIN
from tests.testbed.asterisk import AGI_PORT, Ami
from tests.web.conftest import world

DID = "15554000001"
ALLOW = {"webhook_allow": "127.0.0.0/8", "webhook_timeout": "2"}


def readme_receiver() -> str:
    """The README's example receiver, exactly as printed (the Python block of "Webhooks")."""
    section = (ROOT / "README.md").read_text().split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README's Webhooks section has no python block"
    return found.group(1)


async def test_the_readme_receiver_gets_a_real_call_and_a_change_made_on_the_page(
    mysql_url: str, ami: Ami, serve: StartServe, start_site: StartSite, tmp_path: Path
) -> None:
    await world(mysql_url)
    from did_failover.storage import open_repository

    async with open_repository(mysql_url, 5.0) as repo:
        await repo.add_account(ACCOUNT, "Test-bed customer", "customer", None)
        await add_did(repo, DID, "endpoint:busy", account=ACCOUNT, busy="endpoint:answer")
    script = tmp_path / "receiver.py"
    script.write_text(readme_receiver())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    env.update(DID_FAILOVER_DATABASE_URL=mysql_url, DID_FAILOVER_WEBHOOK_ALLOW="127.0.0.0/8")
    added = subprocess.run(
        [BIN, "webhook", "add", f"http://127.0.0.1:{port}/", "--events", "call.ended,change.made"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    secret = added.stdout.split()[-1]
    out = (tmp_path / "receiver.out").open("w")
    receiver = subprocess.Popen(
        [sys.executable, str(script), str(port), secret], stdout=out, stderr=subprocess.STDOUT
    )
    try:
        await serve(mysql_url, port=AGI_PORT, **ALLOW)
        site = await start_site(mysql_url, **ALLOW)
        async with contextlib.aclosing(await site.login("root")) as client:
            token = csrf_of((await client.get("/dids")).text)
            switched = await client.post(
                "/dids/15550001/switch", data={"csrf": token, "enabled": "off", "back": "/dids"}
            )
            assert switched.status_code == 303
        call = await ami.originate(DID, str(next(callers)))
        outcome = await ami.wait_outcome(call, timeout=30)
        assert (outcome.result, outcome.leg) == ("ANSWERED", "BUSY")
        printed: list[dict[str, object]] = []
        async with asyncio.timeout(30):
            while not {"call.ended", "change.made"} <= {str(e["type"]) for e in printed}:
                await asyncio.sleep(0.1)
                text = (tmp_path / "receiver.out").read_text()
                assert "refused" not in text, text
                printed = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    finally:
        receiver.kill()
        receiver.wait()
        out.close()
    ended = next(e for e in printed if e["type"] == "call.ended")
    data = ended["data"]
    assert isinstance(data, dict)
    assert (data["did"], data["uniqueid"], data["result"], data["leg"]) == (
        DID,
        call.channel_uniqueid,
        "ANSWERED",
        "BUSY",
    )
    assert data["legs"] == "PRIMARY endpoint:busy BUSY|BUSY#1 endpoint:answer ANSWER"
    change = next(e for e in printed if e["type"] == "change.made")
    assert isinstance(change["data"], dict) and change["data"]["actor"] == "web:root"
    assert BIN.exists()
