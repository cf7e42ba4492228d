"""Peer (3): the bare asyncio skeleton, streams and nothing else; sends a failover call's commands.

No database, no logging, no error handling: the floor of what a Python asyncio FastAGI server costs.
"""

from __future__ import annotations

import asyncio

from bench import common
from bench.peers._serve import run, serve_until_sigterm


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
    await serve_until_sigterm(_session, port)


if __name__ == "__main__":
    run(main, __doc__.splitlines()[0])
