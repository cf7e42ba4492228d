"""Long management commands show progress on a terminal and nothing when piped."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.net import free_port
from tests.support.ops import serve_env
from tests.support.serve import BIN


def _db_init(tmp_path: Path, stderr: int) -> None:
    env = serve_env(tmp_path, free_port())
    subprocess.run([BIN, "db", "init"], env=env, stderr=stderr, stdout=subprocess.DEVNULL, check=True)


def test_db_init_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    """stderr a terminal: a progress line is drawn, then erased so the result line stands alone."""
    master, slave = os.openpty()
    try:
        _db_init(tmp_path, slave)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert b"creating the schema" in seen and seen.endswith(b"\r\x1b[K")


def test_db_init_writes_no_progress_when_piped(tmp_path: Path) -> None:
    """stderr a pipe or a file (cron, scripts): no progress line at all."""
    log = tmp_path / "stderr"
    with log.open("wb") as out:
        _db_init(tmp_path, out.fileno())
    assert log.read_bytes() == b""
