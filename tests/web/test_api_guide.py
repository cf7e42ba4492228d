"""docs/api.md's examples, run as written on a fresh quickstart: its sample data and admin
(`scripts/quickstart --data-only`), a real web process, and bash running each `sh` block in order,
with curl failing on any HTTP error. Only the web page's address is the test's own free port."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.web import StartSite
from tests.support.db import execute
from tests.support.examples import ROOT, quickstart_env, run_examples, shell_blocks

GUIDE = ROOT / "docs" / "api.md"


@pytest.mark.slow  # a shell running every example, a process per command: left out of --quick
async def test_every_example_of_the_api_guide_runs_as_written_on_a_fresh_quickstart(
    tmp_path: Path, start_site: StartSite
) -> None:
    env, database_url = quickstart_env(tmp_path)
    site = await start_site(database_url)
    blocks, skipped = shell_blocks(GUIDE.read_text())
    assert len(blocks) >= 2 and skipped == []
    ran = run_examples(blocks, site.url, env, tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # What the examples say they did, in the database.
    rows = execute(
        database_url,
        "SELECT t.busy_destination, t.after_hours_destination, t.schedule FROM did_transfers t"
        " JOIN dids d ON d.id = t.did_id WHERE d.number = ?",
        ("15551230002",),
    )
    assert rows == [
        (
            "pstn:+15557654321/20,sip:office@pbx.example.com,voicemail:100",
            "pstn:+15559990000",
            "Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25",
        )
    ]
    assert execute(database_url, "SELECT COUNT(*) FROM api_tokens WHERE name = 'provisioning'") == [(0,)]
