"""The README's examples, pasted as they are on a fresh quickstart: every `sh` block, in order, but
those marked `<!-- not run by tests/test_readme.py: WHY -->` (root, systemd, a terminal), run by bash
against the quickstart's data (`scripts/quickstart --data-only`) and a real web process; any command
that fails, and any HTTP error of curl, fails the test. Only the web page's address is the test's own
free port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.web import StartSite
from tests.support.db import execute

ROOT = Path(__file__).resolve().parents[2]
SKIP = "<!-- not run by tests/test_readme.py:"


def shell_blocks(text: str) -> tuple[list[str], list[str]]:
    """The `sh` blocks to run, and the reasons of those skipped."""
    run: list[str] = []
    skipped: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i] == "```sh":
            end = lines.index("```", i + 1)
            block = "\n".join(lines[i + 1 : end]) + "\n"
            if i and lines[i - 1].startswith(SKIP):
                skipped.append(lines[i - 1])
            else:
                run.append(block)
            i = end
        i += 1
    return run, skipped


def run_examples(
    blocks: list[str], site_url: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    script = "\n".join(block.replace("http://127.0.0.1:8573", site_url) for block in blocks)
    prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'
    return subprocess.run(
        ["bash", "-c", prelude + script], env=env, capture_output=True, text=True, timeout=180, cwd=cwd
    )


def quickstart_env(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The environment after `scripts/quickstart --data-only`: did-failover on PATH, its database."""
    database_url = f"sqlite:///{tmp_path}/did-failover.db"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DID_FAILOVER_DATABASE_URL": database_url,
        "SUDO_USER": "alice",
    }
    done = subprocess.run(
        [str(ROOT / "scripts" / "quickstart"), "--data-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return env, database_url


@pytest.mark.slow  # a shell running every example, a process per command: left out of --quick
async def test_every_example_of_the_readme_runs_as_written_on_a_fresh_quickstart(
    tmp_path: Path, start_site: StartSite
) -> None:
    env, database_url = quickstart_env(tmp_path)
    site = await start_site(database_url)
    blocks, skipped = shell_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 8 and len(skipped) <= 7  # a new block is run unless it says why not
    ran = run_examples(blocks, site.url, env, tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    # the last forward the examples set, through the API
    rows = execute(
        database_url,
        "SELECT t.busy_destination FROM did_transfers t JOIN dids d ON d.id = t.did_id WHERE d.number = ?",
        ("15551230000",),
    )
    assert rows == [("pstn:+15557654321",)]
