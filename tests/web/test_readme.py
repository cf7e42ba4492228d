"""The README's examples, pasted as they are on a fresh quickstart: every `sh` block, in order, but
those marked `<!-- not run by tests/web/test_readme.py: WHY -->` (root, systemd, a terminal), run by bash
against the quickstart's data (`scripts/quickstart --data-only`) and a real web process; any command
that fails, and any HTTP error of curl, fails the test. Only the web page's address is the test's own
free port."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.web import StartSite
from tests.support.db import execute
from tests.support.examples import ROOT, quickstart_env, run_examples, shell_blocks


@pytest.mark.slow  # a shell running every example, a process per command: left out of --quick
async def test_every_example_of_the_readme_runs_as_written_on_a_fresh_quickstart(
    tmp_path: Path, start_site: StartSite
) -> None:
    env, database_url = quickstart_env(tmp_path)
    site = await start_site(database_url)
    blocks, skipped = shell_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 8 and len(skipped) <= 9  # a new block is run unless it says why not
    ran = run_examples(blocks, site.url, env, tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    # the last forward the examples set, through the API
    rows = execute(
        database_url,
        "SELECT t.busy_destination FROM did_transfers t JOIN dids d ON d.id = t.did_id WHERE d.number = ?",
        ("15551230000",),
    )
    assert rows == [("pstn:+15557654321",)]
