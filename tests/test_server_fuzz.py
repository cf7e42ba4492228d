"""Property tests: arbitrary bytes as environment blocks and as replies never escape or hang a session."""

from __future__ import annotations

import asyncio
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from did_failover import logs
from did_failover.runtime.app import agi_server
from did_failover.settings import Settings
from fastagi.client import environment
from fastagi.server import Server
from fastagi.session import AGISession

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def _commands(session: AGISession) -> None:
    await session.exec("Dial", "PJSIP/alice,30")
    await session.get_variable("DIALSTATUS")
    await session.get_full_variable("${DIALSTATUS},${HANGUPCAUSE}")
    await session.exec("Dial", "PJSIP/bob,30")


async def _exchange(prefix: bytes, chunks: list[bytes]) -> tuple[Server, float, list[dict[str, object]]]:
    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    server = agi_server(
        Settings(listen="127.0.0.1:0", env_timeout=0.5, command_timeout=0.5, grace_period=0),
        {"x": _commands},
    )
    await server.startup(install_signals=False)
    loop = asyncio.get_running_loop()
    start = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(prefix)
        for chunk in chunks:
            writer.write(chunk)
            await asyncio.sleep(0)
        if writer.can_write_eof():
            writer.write_eof()
        await asyncio.wait_for(reader.read(), 3)
    except OSError:
        pass  # the server already closed: exactly what some inputs deserve
    elapsed = loop.time() - start
    writer.close()
    for _ in range(100):
        if not server.sessions and server.running == 0:
            break
        await asyncio.sleep(0.01)
    await server.shutdown()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return server, elapsed, lines


def _check(server: Server, elapsed: float, lines: list[dict[str, object]]) -> None:
    assert elapsed < 2.5, "the server held the connection beyond its timeouts"
    assert not server.sessions and server.running == 0, "a session was left behind"
    assert not [line for line in lines if line["event"] == "handler failed"], "an exception escaped"
    assert sum(1 for line in lines if line["event"] == "session") <= 1


@FUZZ
@given(st.lists(st.binary(max_size=600), max_size=8))
def test_arbitrary_environment_bytes(chunks: list[bytes]) -> None:
    """Random bytes instead of an environment block: closed within env_timeout, nothing left."""
    _check(*asyncio.run(_exchange(b"", chunks)))


_reply_line = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"") + b"\n"),
    st.sampled_from(
        [
            b"HANGUP\n",
            b"200 result=0\n",
            b"200 result=1 (BUSY)\n",
            b"100 result=0 Trying...\n",
            b"520-Invalid command syntax.  Proper usage follows:\n",
            b"520 End of proper usage.\n",
            b"511 Command Not Permitted on a dead channel or intercept routine\n",
            b"510 Invalid or unknown command\n",
            b"200 result=1 (unterminated\n",
        ]
    ),
)


@FUZZ
@given(st.lists(_reply_line, max_size=12))
def test_arbitrary_replies(replies: list[bytes]) -> None:
    """A valid environment followed by random reply lines: the session ends cleanly, nothing escapes."""
    _check(*asyncio.run(_exchange(environment("x"), replies)))
