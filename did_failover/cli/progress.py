"""Progress for long management commands: one self-rewriting line on stderr, only on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

INTERVAL = 0.25


@contextlib.asynccontextmanager
async def progress(label: str, stream: TextIO | None = None) -> AsyncIterator[None]:
    """Show `label ... 3 s` while the block runs, then erase it; nothing when stderr is not a terminal."""
    out = stream or sys.stderr
    if not out.isatty():
        yield
        return
    started = time.monotonic()

    async def tick() -> None:
        spinner = "|/-\\"
        for turn in range(10**9):
            out.write(f"\r{label} {spinner[turn % 4]} {time.monotonic() - started:.0f} s")
            out.flush()
            await asyncio.sleep(INTERVAL)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        out.write("\r\033[K")
        out.flush()
