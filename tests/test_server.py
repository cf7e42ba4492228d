"""The FastAGI server over real sockets against the fake Asterisk: replies, broken peers, limits, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from fastagi.client import call, environment, ok_responder
from fastagi.errors import CommandRejected
from fastagi.server import Server
from fastagi.session import AGISession
from tests.plugins.logs import LogCapture
from tests.plugins.servers import StartServer

HOST = "127.0.0.1"


async def _dial_twice(session: AGISession) -> None:
    """A handler shaped like a failover call: Dial, read DIALSTATUS, Dial again."""
    await session.exec("Dial", "PJSIP/alice,30")
    status = await session.get_variable("DIALSTATUS")
    session.fields["status"] = status
    session.fields["hungup_seen"] = session.hungup
    await session.exec("Dial", "PJSIP/bob,30")


async def test_session_runs_handler_and_logs_one_canonical_line(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """Commands go out exactly as written, the reply data reaches the handler, one log line per session."""
    server = await start_server({"x": _dial_twice})
    result = await call(HOST, server.port, environment("x"), ok_responder({"DIALSTATUS": "BUSY"}))
    assert result.commands == [
        'EXEC Dial "PJSIP/alice,30"',
        "GET VARIABLE DIALSTATUS",
        'EXEC Dial "PJSIP/bob,30"',
    ]
    assert result.closed_by_server and not result.failure
    await asyncio.sleep(0.05)
    (line,) = log_capture.events("session")
    assert line["outcome"] == "ok" and line["status"] == "BUSY" and line["commands"] == 3
    assert line["uniqueid"] == "1795757547.1" and line["caller"] == "15551110000"


async def test_hangup_line_before_reply_is_recorded_not_taken_as_reply(start_server: StartServer) -> None:
    """An unsolicited HANGUP arrives before the reply: the handler still gets the real reply."""
    server = await start_server({"x": _dial_twice})
    base = ok_responder({"DIALSTATUS": "CANCEL"})

    def responder(command: str) -> list[str]:
        lines = list(base(command) or [])
        return ["HANGUP", *lines] if command.startswith("EXEC") else lines

    seen: list[AGISession] = []
    original = server.on_request

    def spy(session: AGISession) -> None:
        seen.append(session)
        original(session)

    server.on_request = spy  # type: ignore[method-assign]
    result = await call(HOST, server.port, environment("x"), responder)
    assert len(result.commands) == 3
    assert seen[0].fields["status"] == "CANCEL"
    assert seen[0].fields["hungup_seen"] is True


async def test_interim_100_line_is_skipped(start_server: StartServer, log_capture: LogCapture) -> None:
    """`100 result=0 Trying...` then `200`: the handler sees the 200."""
    server = await start_server({"x": _dial_twice})
    base = ok_responder({"DIALSTATUS": "NOANSWER"})

    def responder(command: str) -> list[str]:
        return ["100 result=0 Trying...", *(base(command) or [])]

    await call(HOST, server.port, environment("x"), responder)
    await asyncio.sleep(0.05)
    assert log_capture.events("session")[0]["status"] == "NOANSWER"


async def test_520_block_rejection_ends_with_verbose_and_failure(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """A 520 usage block is a rejection: VERBOSE explains, then `failure` so the dialplan falls back."""
    server = await start_server({"x": _dial_twice})

    def responder(command: str) -> list[str]:
        if command.startswith("EXEC"):
            return [
                "520-Invalid command syntax.  Proper usage follows:",
                "Usage: EXEC",
                "520 End of proper usage.",
            ]
        return ["200 result=1"]

    result = await call(HOST, server.port, environment("x"), responder)
    assert result.failure
    assert result.commands[-1].startswith("VERBOSE")
    await asyncio.sleep(0.05)
    assert log_capture.events("session")[0]["outcome"] == "error"


async def test_511_dead_channel_is_a_caller_hangup(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """511 means the channel is dead: the session ends as a caller hang-up, not an error."""
    server = await start_server({"x": _dial_twice})
    result = await call(
        HOST,
        server.port,
        environment("x"),
        lambda c: ["511 Command Not Permitted on a dead channel or intercept routine"],
    )
    assert not result.failure
    await asyncio.sleep(0.05)
    assert log_capture.events("session")[0]["outcome"] == "caller_hangup"


async def test_510_reaches_the_handler_as_command_rejected(start_server: StartServer) -> None:
    """A handler can catch CommandRejected for 510 and carry on."""
    codes: list[int] = []

    async def handler(session: AGISession) -> None:
        try:
            await session.command("BOGUS")
        except CommandRejected as exc:
            codes.append(exc.code)
        await session.command("NOOP")

    server = await start_server({"x": handler})
    replies = iter(["510 Invalid or unknown command", "200 result=0"])
    result = await call(HOST, server.port, environment("x"), lambda c: [next(replies)])
    assert codes == [510] and result.commands == ["BOGUS", "NOOP"]


@pytest.mark.parametrize("when", [0, 1, 2])
async def test_eof_at_any_command_ends_the_session_cleanly(
    start_server: StartServer, log_capture: LogCapture, when: int
) -> None:
    """Asterisk closes the socket mid-call: the handler ends, no session or task is left."""
    server = await start_server({"x": _dial_twice})
    count = 0
    base = ok_responder({"DIALSTATUS": "BUSY"})

    def responder(command: str) -> list[str] | None:
        nonlocal count
        count += 1
        return None if count > when else list(base(command) or [])

    await call(HOST, server.port, environment("x"), responder)
    await asyncio.sleep(0.1)
    assert log_capture.events("session")[0]["outcome"] == "closed"
    assert not server.sessions and server.running == 0


async def test_unknown_script_gets_verbose_and_failure(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """An unknown script path: VERBOSE naming it, then failure."""
    server = await start_server({})
    result = await call(HOST, server.port, environment("nope", args=["1"]), ok_responder())
    assert result.failure
    assert result.commands == ["VERBOSE \"did-failover: unknown script 'nope'\" 1"]
    await asyncio.sleep(0.05)
    assert log_capture.events("session")[0]["outcome"] == "unknown_script"


async def test_health_route_answers_without_anything_else(start_server: StartServer) -> None:
    """The built-in `health` route sends one VERBOSE and ends with success."""
    server = await start_server({})
    result = await call(HOST, server.port, environment("health"), ok_responder())
    assert result.commands == ['VERBOSE "did-failover healthy" 3']
    assert not result.failure and result.closed_by_server


async def test_session_over_the_limit_gets_failure_at_once(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """With max_sessions sessions busy, the next one is failed at once and counted."""
    release = asyncio.Event()

    async def hold(session: AGISession) -> None:
        await release.wait()

    server = await start_server({"hold": hold}, max_sessions=1)
    first = asyncio.create_task(call(HOST, server.port, environment("hold"), ok_responder()))
    while server.running < 1:
        await asyncio.sleep(0.01)
    second = await call(HOST, server.port, environment("hold"), ok_responder())
    assert second.failure and second.commands == []
    release.set()
    assert not (await first).failure
    assert server.counters["over_limit"] == 1


async def test_args_and_query_reach_the_handler(start_server: StartServer) -> None:
    """agi_arg_N and the script's ?query are exposed to the handler."""
    seen: dict[str, object] = {}

    async def handler(session: AGISession) -> None:
        assert session.request is not None
        seen["args"] = session.request.args
        seen["query"] = session.request.query

    server = await start_server({"x": handler})
    await call(HOST, server.port, environment("x?mode=test", args=["+15551230000", ""]), ok_responder())
    assert seen == {"args": ["+15551230000", ""], "query": {"mode": ["test"]}}


async def test_reply_timeout_closes_the_session(start_server: StartServer, log_capture: LogCapture) -> None:
    """No reply to an ordinary command within command_timeout: the session is closed and logged."""

    async def handler(session: AGISession) -> None:
        await session.command("NOOP")

    server = await start_server({"x": handler}, command_timeout=0.2)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(environment("x"))
    assert await reader.readline() == b"NOOP\n"
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await asyncio.sleep(0.05)
    assert log_capture.events("session")[0]["outcome"] == "reply_timeout"


async def test_each_command_gets_its_own_reply_timeout(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """A slow reply within a long timeout is fine; a later command's shorter timeout still cuts on time,
    and a reply that comes after an EXEC blocked beyond the timeout does not count as overdue."""

    async def handler(session: AGISession) -> None:
        await session.command("NOOP", "long", timeout=5)
        await session.exec("Dial", "PJSIP/alice,30")
        await session.command("NOOP", "short", timeout=0.3)

    server = await start_server({"x": handler}, command_timeout=5)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(environment("x"))
    assert await reader.readline() == b"NOOP long\n"
    await asyncio.sleep(0.5)  # longer than the short timeout, well within the long one
    writer.write(b"200 result=0\n")
    assert (await reader.readline()).startswith(b"EXEC Dial")
    await asyncio.sleep(0.5)
    writer.write(b"200 result=0\n")
    assert await reader.readline() == b"NOOP short\n"
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert 0.25 < asyncio.get_running_loop().time() - started < 1.5
    writer.close()
    await asyncio.sleep(0.05)
    (line,) = log_capture.events("session")
    assert line["outcome"] == "reply_timeout" and line["error"] == "no reply within 0.3 s"


async def test_exec_has_no_reply_timeout(start_server: StartServer) -> None:
    """EXEC Dial may block for the whole call: it is not cut by command_timeout."""

    async def handler(session: AGISession) -> None:
        await session.exec("Dial", "PJSIP/alice,30")

    server = await start_server({"x": handler}, command_timeout=0.1)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(environment("x"))
    assert (await reader.readline()).startswith(b"EXEC Dial")
    await asyncio.sleep(0.4)
    writer.write(b"200 result=0\n")
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert server.counters["ok"] == 1
    writer.close()


async def _request_seen(port: int, pieces: list[bytes]) -> dict[str, object]:
    """Send an environment block in `pieces` (20 ms apart), answer the VERBOSE; what the handler saw."""
    reader, writer = await asyncio.open_connection(HOST, port)
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.02)
    assert (await reader.readline()).startswith(b"VERBOSE ")
    writer.write(b"200 result=1\n")
    await reader.read()
    writer.close()
    return SEEN.pop()


SEEN: list[dict[str, object]] = []


async def _record_request(session: AGISession) -> None:
    request = session.request
    assert request is not None
    SEEN.append(
        {
            "args": request.args,
            "uniqueid": request.uniqueid,
            "channel": request.channel,
            "callerid": request.callerid,
            "extension": request.extension,
            "env": request.env,
        }
    )
    await session.verbose("seen")


async def test_environment_whole_in_pieces_or_with_crlf_gives_the_same_request(
    start_server: StartServer,
) -> None:
    """The block parsed at once (the usual case) and line by line (trickled, CRLF) agree exactly."""
    server = await start_server({"did-failover": _record_request})
    block = environment(
        "did-failover", args=["15551230000", "a: b"], uniqueid="1795757547.77", accountcode=""
    )
    whole = await _request_seen(server.port, [block])
    assert whole["args"] == ["15551230000", "a: b"] and whole["uniqueid"] == "1795757547.77"
    env = whole["env"]
    assert isinstance(env, dict) and env["agi_accountcode"] == "" and env["agi_language"] == "en"
    middle = len(block) // 2
    assert await _request_seen(server.port, [block[:middle], block[middle:]]) == whole
    assert await _request_seen(server.port, [block.replace(b"\n", b"\r\n")]) == whole
    no_space = block.replace(b"agi_accountcode: ", b"agi_accountcode:")
    assert await _request_seen(server.port, [no_space]) == whole


# -- broken and hostile peers -------------------------------------------------------------------------


async def _send_and_wait_closed(port: int, payload: bytes, timeout: float = 3.0) -> float:
    """Send `payload`, then measure how long until the server closes the connection."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(payload)
    start = loop.time()
    try:
        await asyncio.wait_for(reader.read(), timeout)
    except ConnectionError:
        pass
    writer.close()
    return loop.time() - start


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"agi_network: yes\nagi_channel: x\n", "EOF before end of environment"),
        (b"agi_network: yes\nagi_x: " + b"a" * 9000 + b"\n\n", "line over 8192 bytes"),
        (b"agi_x: " + b"a" * 9000, "line over 8192 bytes"),
        (b"".join(b"agi_k%d: v\n" % i for i in range(300)) + b"\n", "environment block over 256 lines"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not an AGI environment line"),
    ],
)
async def test_broken_environment_is_closed_and_logged_once(
    start_server: StartServer, log_capture: LogCapture, payload: bytes, reason: str
) -> None:
    """EOF mid-block, over-long line, too many lines, non-AGI peer: closed, one log line, nothing left."""
    server = await start_server({"did-failover": _dial_twice})
    if reason.startswith("EOF"):
        _reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(payload)
        writer.close()
    else:
        assert await _send_and_wait_closed(server.port, payload) < 1
    await asyncio.sleep(0.1)
    (line,) = log_capture.events("session")
    assert line["outcome"] == "protocol_error" and reason in line["reason"]
    assert not server.sessions and server.running == 0


async def test_silent_peer_is_closed_after_env_timeout(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """A peer that connects and sends half a block is cut after env_timeout, without CPU spinning."""
    server = await start_server({}, env_timeout=0.3)
    elapsed = await _send_and_wait_closed(server.port, b"agi_network: yes\n")
    assert 0.2 < elapsed < 2
    await asyncio.sleep(0.05)
    assert "no environment block in time" in log_capture.events("session")[0]["reason"]
    assert not server.sessions


async def test_peer_outside_allowlist_is_closed_at_accept(start_server: StartServer) -> None:
    """A client not in DID_FAILOVER_ALLOW is closed before anything runs, and counted."""
    ran: list[bool] = []

    async def handler(session: AGISession) -> None:
        ran.append(True)

    server = await start_server({"x": handler}, allow=("10.0.0.0/8",))
    result = await call(HOST, server.port, environment("x"), ok_responder())
    assert result.commands == [] and not ran
    assert server.counters["refused_peer"] == 1 and not server.sessions


async def test_stray_lines_while_idle_are_bounded(start_server: StartServer, log_capture: LogCapture) -> None:
    """A peer flooding lines while no command waits is cut off."""
    release = asyncio.Event()

    async def hold(session: AGISession) -> None:
        await release.wait()

    server = await start_server({"hold": hold})
    assert await _send_and_wait_closed(server.port, environment("hold") + b"200 result=0\n" * 100) < 1
    release.set()
    await asyncio.sleep(0.05)
    assert log_capture.events("session")[0]["outcome"] == "ok"


# -- shutdown -----------------------------------------------------------------------------------------


async def test_shutdown_lets_a_session_in_flight_finish(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """On stop, a session that ends within the grace period completes normally."""
    server = await start_server({"x": _dial_twice}, grace_period=5)
    port = server.port
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(environment("x"))
    assert (await reader.readline()).startswith(b"EXEC Dial")
    server.request_stop()
    await asyncio.sleep(0.2)
    # New connections are refused once stopping.
    with pytest.raises(OSError):
        await asyncio.open_connection(HOST, port)
    writer.write(b"200 result=0\n")
    assert await reader.readline() == b"GET VARIABLE DIALSTATUS\n"
    writer.write(b"200 result=1 (BUSY)\n")
    assert (await reader.readline()).startswith(b"EXEC Dial")
    writer.write(b"200 result=0\n")
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()
    await asyncio.sleep(0.1)
    assert log_capture.events("session")[0]["outcome"] == "ok"


async def test_shutdown_closes_a_session_that_outlives_the_grace_period(
    start_server: StartServer, log_capture: LogCapture
) -> None:
    """A session still running after the grace period is closed and its task cancelled; none is left."""
    server = await start_server({"x": _dial_twice}, grace_period=0.3)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(environment("x"))
    assert (await reader.readline()).startswith(b"EXEC Dial")
    before = len(asyncio.all_tasks())
    server.request_stop()
    try:
        assert await asyncio.wait_for(reader.read(), 3) == b""
    except ConnectionError:
        pass
    writer.close()
    await asyncio.sleep(0.2)
    assert not server.sessions and server.running == 0
    assert log_capture.events("session")[0]["outcome"] == "cancelled"
    assert len(asyncio.all_tasks()) < before


async def test_second_stop_closes_everything_at_once(start_server: StartServer) -> None:
    """A second signal does not wait for the grace period."""
    server = await start_server({"x": _dial_twice}, grace_period=30)
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(environment("x"))
    await reader.readline()
    server.request_stop()
    await asyncio.sleep(0.1)
    server.request_stop()
    try:
        assert await asyncio.wait_for(reader.read(), 2) == b""
    except ConnectionError:
        pass
    writer.close()
    assert isinstance(server, Server)
