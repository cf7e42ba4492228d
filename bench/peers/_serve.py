"""What every peer shares: the command line, the open-file limit, and the event loop."""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop


def parse_args(description: str) -> argparse.Namespace:
    """Parse `--port` and `--stdlib-loop`; raise the open-file soft limit to the hard one."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stdlib-loop", action="store_true", help="asyncio's own loop instead of uvloop")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return args


async def serve_until_sigterm(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]], port: int
) -> None:
    """Serve `handler` on 127.0.0.1:`port` until SIGTERM."""
    server = await asyncio.start_server(handler, "127.0.0.1", port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def run(main: Callable[[int], Coroutine[Any, Any, None]], description: str) -> None:
    """Run an asyncio peer on uvloop, or on asyncio's own loop with --stdlib-loop."""
    args = parse_args(description)
    if args.stdlib_loop:
        asyncio.run(main(args.port))
    else:
        uvloop.run(main(args.port))
