"""The FastAGI wire format: environment lines, quoting, every reply form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastagi.errors import CommandRejected, DeadChannel, ProtocolViolation, UnsafeValue
from fastagi.protocol import (
    Reply,
    ReplyReader,
    format_command,
    format_exec,
    parse_request,
    parse_success,
    quote,
)


def test_env_line_with_empty_value_is_kept() -> None:
    """`agi_accountcode: ` is an empty value, not an error."""
    assert parse_request(b"agi_accountcode: \nagi_uniqueid: 1").env["agi_accountcode"] == ""
    assert parse_request(b"agi_accountcode:\nagi_uniqueid: 1").env["agi_accountcode"] == ""


def test_env_line_value_keeps_colons_and_invalid_utf8_is_replaced() -> None:
    """Only the first colon splits; bytes that are not UTF-8 are replaced, not fatal."""
    env = parse_request(b"agi_request: agi://127.0.0.1:4573/x\nagi_calleridname: Jos\xc3").env
    assert env["agi_request"] == "agi://127.0.0.1:4573/x"
    assert env["agi_calleridname"] == "Jos\ufffd"


@pytest.mark.parametrize("line", [b"GET / HTTP/1.1", b"hello", b"agi key: v", b": v"])
def test_env_line_that_is_not_agi_is_a_protocol_violation(line: bytes) -> None:
    """Anything but `agi_key: value` means the peer is not Asterisk."""
    with pytest.raises(ProtocolViolation):
        parse_request(b"agi_uniqueid: 1\n" + line)


def test_request_collects_args_in_order_and_splits_script_query() -> None:
    """agi_arg_1..N in order (stopping at a gap), script path routed, query parsed."""
    request = parse_request(
        b"agi_arg_2: b\nagi_arg_1: a\nagi_arg_4: d\nagi_network_script: /did-failover/?mode=test&x=1&x=2"
    )
    assert request.args == ["a", "b"]
    assert request.script == "did-failover"
    assert request.query == {"mode": ["test"], "x": ["1", "2"]}


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\there", '"tab\there"'),
    ],
)
def test_quote_escapes_what_res_agi_would_split(value: str, wire: str) -> None:
    """Spaces, tabs, quotes and backslashes are quoted and escaped."""
    assert quote(value) == wire


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
def test_newline_or_nul_is_refused_before_sending(value: str) -> None:
    """A newline would end the command line early: such a value is never sent."""
    with pytest.raises(UnsafeValue):
        format_command("SET", "VARIABLE", "X", value)
    with pytest.raises(UnsafeValue):
        format_exec("Dial", value)


def test_exec_options_are_always_one_quoted_token() -> None:
    """res_agi uses only the first token after the application: options travel quoted."""
    assert format_exec("Dial", "PJSIP/alice&PJSIP/bob,30,r") == b'EXEC Dial "PJSIP/alice&PJSIP/bob,30,r"\n'
    assert format_exec("MSet", 'A=1,B="x y"') == b'EXEC MSet "A=1,B=\\"x y\\""\n'
    with pytest.raises(UnsafeValue):
        format_exec("Dial foo", "x")


@pytest.mark.parametrize(
    ("line", "result", "data", "extra"),
    [
        ("200 result=0", "0", None, {}),
        ("200 result=-1", "-1", None, {}),
        ("200 result=1 (BUSY)", "1", "BUSY", {}),
        ("200 result=1 (BUSY,17)", "1", "BUSY,17", {}),
        ("200 result= (timeout)", "", "timeout", {}),
        ("200 result=0 endpos=8000", "0", None, {"endpos": "8000"}),
        ("200 result=0 (timeout) endpos=8000", "0", "timeout", {"endpos": "8000"}),
        ("200 result=1 (a (nested) value)", "1", "a (nested) value", {}),
        ("200 result=1 (x) y)", "1", "x) y", {}),
        ("200 result=1 ()", "1", "", {}),
    ],
)
def test_success_reply_forms(line: str, result: str, data: str | None, extra: dict[str, str]) -> None:
    """Every `200` form Asterisk sends, including data with parentheses and key=value tails."""
    reply = parse_success(line)
    assert (reply.result, reply.data, reply.extra) == (result, data, extra)


def test_empty_result_keeps_its_data() -> None:
    """`200 result= (timeout)` has no number: the result is empty, the data still read."""
    assert parse_success("200 result= (timeout)") == Reply("", "timeout")
    assert parse_success("200 result=1") == Reply("1")


def test_interim_100_lines_are_skipped() -> None:
    """`100 result=0 Trying...` is not the reply; the next 200 is."""
    reader = ReplyReader()
    assert reader.feed("100 result=0 Trying...") is None
    reply = reader.feed("200 result=0")
    assert reply is not None and reply.result == "0"


def test_520_block_is_collected_until_its_last_line() -> None:
    """The multi-line 520 usage block is one rejection, raised at `520 End of proper usage.`."""
    reader = ReplyReader()
    assert reader.feed("520-Invalid command syntax.  Proper usage follows:") is None
    assert reader.feed(" Usage: GET VARIABLE <variablename>") is None
    with pytest.raises(CommandRejected) as info:
        reader.feed("520 End of proper usage.")
    assert info.value.code == 520
    assert "Usage: GET VARIABLE" in info.value.text


@pytest.mark.parametrize(
    ("line", "error", "code"),
    [
        ("510 Invalid or unknown command", CommandRejected, 510),
        ("520 Invalid command syntax.  Proper usage not available.", CommandRejected, 520),
        ("511 Command Not Permitted on a dead channel or intercept routine", DeadChannel, None),
        ("999 what", ProtocolViolation, None),
        ("200 reslt=1", ProtocolViolation, None),
        ("200 result=1 (unterminated", ProtocolViolation, None),
    ],
)
def test_error_replies_raise_the_matching_exception(
    line: str, error: type[Exception], code: int | None
) -> None:
    """510/520 are rejections, 511 a dead channel, anything else a protocol violation."""
    with pytest.raises(error) as info:
        ReplyReader().feed(line)
    if code is not None:
        assert isinstance(info.value, CommandRejected) and info.value.code == code


@given(st.text(max_size=200))
def test_reply_reader_only_raises_protocol_errors(line: str) -> None:
    """Any line at all gives a reply, None, or one of our protocol exceptions."""
    try:
        ReplyReader().feed(line)
    except (CommandRejected, DeadChannel, ProtocolViolation):
        pass


@given(st.text(max_size=100))
def test_quote_round_trips_through_res_agi_parsing(value: str) -> None:
    """What we quote, res_agi's parser (quotes group, backslash escapes) reads back unchanged."""
    try:
        wire = quote(value)
    except UnsafeValue:
        assert any(c in value for c in "\r\n\0")
        return
    assert _res_agi_split(wire) == [value]


def _res_agi_split(line: str) -> list[str]:
    """A transcription of res_agi.c parse_args(): whitespace splits, quotes group, backslash escapes."""
    args: list[str] = []
    current: list[str] = []
    quoted = escaped = whitespace = False
    started = False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
            started = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current, started = [], False
            whitespace = True
        else:
            current.append(ch)
            started = True
    if started:
        args.append("".join(current))
    del whitespace
    return args
