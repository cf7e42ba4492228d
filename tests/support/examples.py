"""Documentation examples run as a user pastes them: the `sh` blocks of a Markdown file, in order, by
bash after `scripts/quickstart --data-only`, with curl failing on any HTTP error (the README's and
docs/api.md's tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The clone."""
SKIP = "<!-- not run by tests/web/test_readme.py:"


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
