"""A fake Asterisk that speaks FastAGI over a real socket: for tests, `simulate` and the benchmark.

It plays the Asterisk side exactly as agi-protocol.md describes: the environment block, one reply per
command, and whatever extra lines a test injects (`HANGUP`, `100` interim lines, `520` blocks, EOF).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from fastagi.server import DEFAULT_PORT

Responder = Callable[[str], Iterable[str] | None]
"""Maps one command line from the server to the lines to answer (None: close the connection)."""


def environment(
    script: str,
    args: Iterable[str] = (),
    uniqueid: str = "1795757547.1",
    callerid: str = "15551110000",
    extension: str = "15551230000",
    **extra: str,
) -> bytes:
    """The environment block Asterisk 22.10 sends on a Local channel, as seen on the wire."""
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:{DEFAULT_PORT}/{script}",
        "agi_channel": f"Local/{extension}@from-pstn-00000000;2",
        "agi_language": "en",
        "agi_type": "Local",
        "agi_uniqueid": uniqueid,
        "agi_version": "22.10.1+dfsg+~cs6.17.60671434-1",
        "agi_callerid": callerid,
        "agi_calleridname": "unknown",
        "agi_callingpres": "67",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "unknown",
        "agi_rdnis": "unknown",
        "agi_context": "from-pstn",
        "agi_extension": extension,
        "agi_priority": "2",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "139826936317632",
    }
    env.update({f"agi_{k}": v for k, v in extra.items()})
    for i, arg in enumerate(args, 1):
        env[f"agi_arg_{i}"] = arg
    return "".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n"


@dataclass
class CallResult:
    """What the fake Asterisk saw of one session."""

    commands: list[str] = field(default_factory=list)
    failure: bool = False
    """The server ended with a `failure` line (AGISTATUS=FAILURE)."""
    closed_by_server: bool = False


def ok_responder(variables: Mapping[str, str] | None = None) -> Responder:
    """Answer like a channel where every command succeeds; GET (FULL) VARIABLE reads `variables`."""
    values = dict(variables or {})

    def respond(command: str) -> list[str]:
        words = command.split(" ", 3)
        verb = " ".join(words[:2]).upper()
        if verb == "GET VARIABLE" or verb == "GET FULL":
            name = words[-1].strip('"')
            value = values.get(name)
            return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]
        if verb == "SET VARIABLE":
            name, _, value = command.split(" ", 2)[2].partition(" ")
            values[name] = value.strip('"')
        return ["200 result=0" if verb.startswith("EXEC") else "200 result=1"]

    return respond


async def call(
    host: str,
    port: int,
    env: bytes,
    responder: Responder,
    timeout: float = 10.0,
) -> CallResult:
    """Open a session like Asterisk does, answer each command with `responder`, return what was seen."""
    result = CallResult()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(env)
        await writer.drain()
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                break
            if not line:
                result.closed_by_server = True
                break
            text = line.decode("utf-8", errors="replace").rstrip("\n")
            if text.lower().startswith("failure"):
                result.failure = True
                continue
            result.commands.append(text)
            answer = responder(text)
            if answer is None:
                break
            writer.write("".join(f"{a}\n" for a in answer).encode())
            await writer.drain()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    return result
