"""docs/api.md's examples, run as written on a fresh quickstart: its sample data and admin
(`scripts/quickstart --data-only`), a real web process, and bash running each `sh` block in order,
with curl failing on any HTTP error. Only the web page's address is the test's own free port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.plugins.web import StartSite
from tests.support.db import execute

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "api.md"


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S)


async def test_every_example_of_the_api_guide_runs_as_written_on_a_fresh_quickstart(
    tmp_path: Path, start_site: StartSite
) -> None:
    database_url = f"sqlite:///{tmp_path}/did-failover.db"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DID_FAILOVER_DATABASE_URL": database_url,
        "SUDO_USER": "alice",
    }
    quickstart = subprocess.run(
        [str(ROOT / "scripts" / "quickstart"), "--data-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quickstart.returncode == 0, quickstart.stdout + quickstart.stderr
    site = await start_site(database_url)
    blocks = _blocks()
    assert len(blocks) >= 2
    script = "\n".join(block.replace("http://127.0.0.1:8573", site.url) for block in blocks)
    prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'
    ran = subprocess.run(
        ["bash", "-c", prelude + script], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
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
