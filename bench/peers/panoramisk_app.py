"""Peer (1): a minimal panoramisk fast_agi Application sending a failover call's commands."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from panoramisk.fast_agi import Application

from bench import common
from bench.peers._serve import run, serve_until_sigterm


def _data(reply: dict[str, Any]) -> str:
    result = reply.get("result") or ("", "")
    return str(result[1])


async def did_failover(request: Any) -> None:
    """The route: the same command sequence as did-failover, straight through panoramisk's Request."""
    number = request.headers["agi_arg_1"]
    send = request.send_command

    hops = _data(await send(common.COUNTERS.decode().rstrip("\n"))).partition(",")[0]
    await send(common.prepare(int(hops) if hops.isdigit() else 0).decode().rstrip("\n"))
    await send(common.dial_primary(number).decode().rstrip("\n"))
    status = _data(await send(common.STATUS.decode().rstrip("\n")))
    reason, leg, dial = common.next_step(status)
    if dial is not None:
        await send(common.redirecting(number, reason, 1).decode().rstrip("\n"))
        await send(dial.decode().rstrip("\n"))
        status = _data(await send(common.STATUS.decode().rstrip("\n")))
    answered = "ANSWERED" if status.startswith("ANSWER") else "ERROR"
    final = common.result(answered, leg, status.partition(",")[0])
    await send(final.decode().rstrip("\n"))


async def main(port: int) -> None:
    """Serve until SIGTERM."""
    logging.basicConfig(level=logging.WARNING)
    app = Application(loop=asyncio.get_running_loop())
    app.add_route("did-failover", did_failover)
    await serve_until_sigterm(app.handler, port)


if __name__ == "__main__":
    run(main, __doc__.splitlines()[0])
