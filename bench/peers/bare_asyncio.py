"""Peer (3): the bare asyncio skeleton, streams and nothing else; sends a failover call's commands.

No database, no logging, no error handling: the floor of what a Python asyncio FastAGI server costs.
"""

from __future__ import annotations

import asyncio
import signal

from bench import common
from bench.peers._serve import run


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    env = {}
    while line := (await reader.readline()).rstrip(b"\n"):
        key, _, value = line.decode().partition(": ")
        env[key] = value
    number = env["agi_arg_1"]

    async def command(line: bytes) -> str:
        writer.write(line)
        return (await reader.readline()).decode()

    try:
        hops = common.reply_data(await command(common.COUNTERS)).partition(",")[0]
        await command(common.prepare(int(hops) if hops.isdigit() else 0))
        await command(common.dial_primary(number))
        status = common.reply_data(await command(common.STATUS))
        reason, leg, dial = common.next_step(status)
        if dial is not None:
            await command(common.redirecting(number, reason, 1))
            await command(dial)
            status = common.reply_data(await command(common.STATUS))
        await command(
            common.result(
                "ANSWERED" if status.startswith("ANSWER") else "ERROR", leg, status.partition(",")[0]
            )
        )
    finally:
        writer.close()


async def main(port: int) -> None:
    """Serve until SIGTERM."""
    server = await asyncio.start_server(_session, "127.0.0.1", port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    run(main, __doc__.splitlines()[0])
