"""Bad input, fuzzed: the session reader over real sockets (any chunking, a byte at a time, huge
input), the reply parser, and the destination validators. No exception escapes, nothing hangs, memory
stays bounded."""

from __future__ import annotations

import asyncio
import gc
import itertools
import socket
import tracemalloc
from typing import Any

import pytest
import uvloop
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from did_failover import logs
from did_failover.errors import InvalidDestination
from did_failover.routing.destinations import MAX_LENGTH, check_destination, parse_destination
from did_failover.routing.dialstring import DialTemplates
from did_failover.runtime.app import agi_server
from did_failover.settings import Settings
from fastagi.client import environment
from fastagi.errors import AGIError, ProtocolViolation
from fastagi.protocol import ReplyReader, parse_success
from fastagi.server import Server
from fastagi.session import AGISession

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the session reader: chunking, dribble --------------------------------------------------------------


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


async def _chunked_session(env: bytes, env_cuts: list[int], reply_cuts: list[int]) -> dict[str, Any]:
    """Send the environment and each reply cut at the given points; return what the handler saw."""
    seen: dict[str, Any] = {}

    async def handler(session: AGISession) -> None:
        assert session.request is not None
        seen["env"] = dict(session.request.env)
        seen["dial"] = await session.exec("Dial", "PJSIP/alice,30")
        seen["status"] = await session.get_full_variable("${DIALSTATUS},${HANGUPCAUSE}")
        seen["unset"] = await session.get_variable("NOPE")

    server = agi_server(
        Settings(listen="127.0.0.1:0", env_timeout=5, command_timeout=5, grace_period=0), {"x": handler}
    )
    await server.startup(install_signals=False)
    replies = [
        b"200 result=0\n",
        b"100 result=0 Trying...\n200 result=1 (BUSY,17)\n",
        b"200 result=0\n",
    ]
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for chunk in _split(env, env_cuts):
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0)
        for reply in replies:
            await asyncio.wait_for(reader.readline(), 5)
            for chunk in _split(reply, reply_cuts):
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(0)
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
        await server.shutdown()
    return seen


_env_value = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30
).filter(lambda v: not v.startswith(" "))


@FUZZ
@given(
    caller_name=_env_value,
    env_cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=40),
    reply_cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=10),
)
@example(caller_name="Zoë", env_cuts=list(range(2000)), reply_cuts=list(range(60)))  # a byte at a time
def test_any_chunking_of_a_session_reads_the_same(
    caller_name: str, env_cuts: list[int], reply_cuts: list[int]
) -> None:
    """However TCP cuts the environment block and the replies (down to one byte per segment), the
    handler sees the same environment and the same replies."""
    logs.configure("warning", "json")
    env = environment("x", args=["15551230000", "a b,c"], calleridname=caller_name)
    seen = uvloop.run(_chunked_session(env, env_cuts, reply_cuts))
    assert seen["env"]["agi_calleridname"] == caller_name
    assert seen["env"]["agi_arg_2"] == "a b,c" and len(seen["env"]) == 24
    assert seen["dial"].result == "0" and seen["status"] == "BUSY,17" and seen["unset"] is None


# -- huge input: cut at MAX_LINE, memory bounded --------------------------------------------------------


async def _flood(prefix: bytes, total: int) -> tuple[float, int, Server]:
    """Send `prefix`, then `total` bytes with no newline; return seconds to the cut and the traced peak."""
    logs.configure("warning", "json")
    server = agi_server(Settings(listen="127.0.0.1:0", env_timeout=5, grace_period=0), {})
    await server.startup(install_signals=False)
    block = b"x" * 65536
    gc.collect()
    tracemalloc.start()
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(prefix)
        while sent < total:
            writer.write(block)
            sent += len(block)
            await writer.drain()
        await asyncio.wait_for(reader.read(), 5)
    except ConnectionError:
        pass  # cut off while still sending: what should happen
    elapsed = loop.time() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    writer.close()
    await server.shutdown()
    return elapsed, peak, server


@pytest.mark.parametrize("where", ["environment", "reply"])
def test_a_64_mb_line_is_cut_at_max_line_with_bounded_memory(where: str) -> None:
    """64 MB without a newline, in the environment block or as a reply: the connection is cut after
    MAX_LINE bytes and the process's traced memory never holds more than a few chunks of it."""
    prefix = b"agi_network: yes\n" if where == "environment" else environment("none")
    elapsed, peak, server = uvloop.run(_flood(prefix, 64 * 1024 * 1024))
    assert elapsed < 5
    assert peak < 1024 * 1024, f"peak traced memory {peak} bytes"
    assert not server.sessions


# -- the reply parser -----------------------------------------------------------------------------------

_data = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60)
_extra = st.dictionaries(
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9]{0,8}", fullmatch=True),
    max_size=3,
)


@FUZZ
@given(result=st.sampled_from(["0", "1", "-1", ""]), data=_data, extra=_extra)
def test_reply_data_round_trips_whatever_it_holds(result: str, data: str, extra: dict[str, str]) -> None:
    """`200 result=R (DATA) k=v`: DATA comes back exactly, with parentheses, spaces and `k=v` in it."""
    tail = "".join(f" {k}={v}" for k, v in extra.items())
    reply = parse_success(f"200 result={result} ({data}){tail}")
    assert (reply.result, reply.data, reply.extra) == (result, data, extra)


@FUZZ
@given(
    st.lists(
        st.one_of(_data, st.sampled_from(["520-usage", "520 End", "100 Trying", "200 result=1 (x"])),
        max_size=300,
    )
)
def test_reply_reader_raises_only_protocol_errors_and_bounds_520_blocks(lines: list[str]) -> None:
    """Any line sequence: a reply, a need for more, or an AGIError; nothing else, no unbounded growth."""
    reader = ReplyReader()
    for line in lines:
        try:
            if reader.feed(line) is not None:
                reader = ReplyReader()
        except AGIError:
            reader = ReplyReader()
    block = reader._block  # the only state the reader keeps
    assert block is None or len(block) <= 257


def test_endless_520_block_is_cut() -> None:
    """A `520-` block that never ends is refused after MAX_ENV_LINES lines."""
    reader = ReplyReader()
    reader.feed("520-Invalid command syntax.  Proper usage follows:")
    with pytest.raises(ProtocolViolation):
        for _ in range(10_000):
            reader.feed("usage line")


# -- destination validators -----------------------------------------------------------------------------

_HOSTILE = "&,|)(\"\\\n\r\0$[]{}; \t'`<>?#/:@%*+=~!.-_"
_dest_text = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda kind, body: kind + body,
        st.sampled_from(["pstn:", "sip:", "endpoint:", "PSTN:", "sip:user@", "pstn:+"]),
        st.text(
            st.one_of(st.sampled_from(list(_HOSTILE)), st.characters(), st.sampled_from("0123456789abz")),
            max_size=80,
        ),
    ),
)
_TEMPLATES = DialTemplates(Settings())
_DIAL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@;=~*+!%/-[]")


@settings(max_examples=1000, deadline=None)
@given(_dest_text)
@example("pstn:1555${SHELL(id)}")
@example("sip:a@b.com,30,G(x)")
@example("endpoint:alice&PJSIP/bob")
@example("sip:" + "a" * 240 + "@b.com")
@example("pstn:" + "".join(chr(0xFF10 + int(d)) for d in "1555123"))  # full-width digits
def test_destination_validator_refuses_or_yields_a_safe_dial_string(text: str) -> None:
    """Any text: InvalidDestination, or a destination that parses back to itself and dials as a string of
    characters neither Dial nor the dialplan give a meaning to."""
    try:
        dest = parse_destination(text, "--busy")
    except InvalidDestination as exc:
        assert str(exc).startswith("--busy: ") and "\n" not in str(exc)
        return
    assert len(text) <= MAX_LENGTH and str(dest) == text
    assert check_destination(dest) == dest
    target = _TEMPLATES.dial_string(text, "busy destination")
    assert set(target) <= _DIAL_SAFE, target
