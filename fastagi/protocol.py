"""FastAGI wire format as Asterisk 22's res_agi speaks it: environment block, commands, replies.

Sans-I/O, as h11 is for HTTP: these functions and the `Framer` turn bytes into values and values into
bytes, and keep the receive buffer; fastagi.session does the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from operator import methodcaller
from types import MappingProxyType
from urllib.parse import parse_qs

from fastagi.errors import CommandRejected, DeadChannel, ProtocolViolation, UnsafeValue

MAX_LINE = 8192
"""Longest line accepted from Asterisk, newline excluded (res_agi's own buffer is 8192 bytes)."""
MAX_ENV_LINES = 256
"""Most lines an environment block may have."""

_NEEDS_QUOTES = re.compile(r'[\s"\\]')
_KV_TAIL = re.compile(r"(?: [^\s=]+=\S*)*")
_ENV_BLOCK = re.compile(r"(?:agi_[^\s:]++: [^\n]*+\n)*+agi_[^\s:]++: [^\n]*+")
"""An environment block exactly as Asterisk writes it (anything else takes the careful path)."""
_SPLIT_FIELD = methodcaller("split", ": ", 1)
_ARG_NAMES = tuple(f"agi_arg_{n}" for n in range(1, MAX_ENV_LINES + 1))
_NEEDLES = {
    name: f"\n{name}: "
    for name in (
        "agi_network_script",
        "agi_uniqueid",
        "agi_channel",
        "agi_callerid",
        "agi_extension",
        *_ARG_NAMES,
    )
}
"""`\nname: ` for each field `_request` reads."""
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class AGIRequest:
    """What Asterisk told us when the session opened: the environment block, parsed.

    A held call keeps its request as long as the call lasts, so only the fields the server uses are
    kept apart; the rest stays in the block's text and `env` parses it when asked.
    """

    text: str
    """The environment block as received (decoded, lines joined by newlines, no blank line)."""
    args: list[str]
    script: str
    query: dict[str, list[str]] = field(default_factory=dict)
    uniqueid: str = ""
    """The channel's unique id."""
    channel: str = ""
    """The channel name, e.g. `PJSIP/pstn-00000001`."""
    callerid: str = ""
    """The caller's number, `unknown` when Asterisk has none."""
    extension: str = ""
    """The dialplan extension that ran the AGI."""

    @property
    def env(self) -> dict[str, str]:
        """Every `agi_*` field of the environment block."""
        return parse_env_text(self.text) if self.text else {}


def parse_env_text(text: str) -> dict[str, str]:
    """Parse an environment block (decoded, newlines between lines, no blank line) into a dict."""
    if _ENV_BLOCK.fullmatch(text) is not None:
        # Asterisk always writes `key: value`: one split per line, all in C.
        return dict(map(_SPLIT_FIELD, text.split("\n")))
    return _parse_env_lines(text)


def _parse_env_lines(text: str) -> dict[str, str]:
    """Line by line: `key:` without the space, CRs, and the errors that name the bad line."""
    env: dict[str, str] = {}
    for line in text.split("\n"):
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_") or " " in key:
            raise ProtocolViolation(f"not an AGI environment line: {line[:60]!r}")
        env[key] = value[1:] if value.startswith(" ") else value
    return env


def parse_request(block: bytes) -> AGIRequest:
    """The request of an environment block as it came off the wire (without its blank line)."""
    text = block.decode("utf-8", errors="replace")
    if _ENV_BLOCK.fullmatch(text) is None:
        return _request(_parse_env_lines(text).get, text)
    # The usual block: pick the few fields a request keeps straight out of the text.
    return _request(partial(_field, "\n" + text + "\n"), text)


def _field(padded: str, name: str) -> str | None:
    """The value of the last `name: value` line of a block that matched _ENV_BLOCK, padded with
    newlines (the last line wins, as in a dict)."""
    needle = _NEEDLES[name]
    start = padded.rfind(needle)
    if start < 0:
        return None
    start += len(needle)
    return padded[start : padded.index("\n", start)]


def _request(get: Callable[[str], str | None], text: str) -> AGIRequest:
    args: list[str] = []
    for name in _ARG_NAMES:
        arg = get(name)
        if arg is None:
            break
        args.append(arg)
    path, _, query = (get("agi_network_script") or "").partition("?")
    return AGIRequest(
        text,
        args,
        path.strip("/"),
        parse_qs(query, keep_blank_values=True) if query else {},
        get("agi_uniqueid") or "",
        get("agi_channel") or "",
        get("agi_callerid") or "",
        get("agi_extension") or "",
    )


def quote(value: str, always: bool = False) -> str:
    """Quote one command argument the way res_agi's parser reads it back."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise UnsafeValue(f"refusing to send a value with a newline or NUL: {value[:40]!r}")
    if value and not always and not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(*words: str) -> bytes:
    """Encode a command line: the first word as is, every other one quoted when needed."""
    if not words or not words[0] or _NEEDS_QUOTES.search(words[0]):
        raise UnsafeValue(f"bad command word: {words[:1]!r}")
    return (" ".join((words[0], *map(quote, words[1:]))) + "\n").encode()


@lru_cache(maxsize=4096)
def format_exec(app: str, options: str) -> bytes:
    """Encode `EXEC App "options"`: res_agi uses only the first token, so options are one quoted token.

    Remembered: a DID's Dial and MSet lines repeat call after call (a refused value raises every time).
    """
    if not app or not app.replace("_", "").isalnum():
        raise UnsafeValue(f"bad application name: {app[:40]!r}")
    return f"EXEC {app} {quote(options, always=True)}\n".encode()


@dataclass(slots=True, frozen=True)
class Reply:
    """A `200` reply: the result, the text in parentheses and any trailing key=value pairs."""

    result: str
    data: str | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


def parse_success(line: str) -> Reply:
    """Parse a `200 result=...` line."""
    if not line.startswith("200 result="):
        raise ProtocolViolation(f"malformed 200 reply: {line[:80]!r}")
    rest = line[11:]
    result, sep, tail = rest.partition(" ")
    if not sep:
        return _RESULT_0 if result == "0" else Reply(result)
    data: str | None = None
    if tail.startswith("("):
        # Data may itself hold ')' and spaces: it ends at the last ')' that only key=value pairs follow.
        end = len(tail)
        while (end := tail.rfind(")", 0, end)) > 0:
            if _KV_TAIL.fullmatch(tail, end + 1):
                data, tail = tail[1:end], tail[end + 1 :]
                break
        else:
            raise ProtocolViolation(f"unterminated data in reply: {line[:80]!r}")
    extra = dict(kv.partition("=")[::2] for kv in tail.split())
    return Reply(result, data, MappingProxyType(extra) if extra else _EMPTY)


_RESULT_0 = Reply("0")
"""`200 result=0`, the reply to every EXEC that ran: one shared instance (replies are immutable)."""

_shared_success = lru_cache(maxsize=1024)(parse_success)
"""parse_success, remembered: the same few replies (`(ANSWER,16)`, `(,)`...) come back all day.
Replies are immutable (`extra` is read-only), so one instance can serve every session."""


class ReplyReader:
    """Collects the lines of one reply: skips `100` interim lines, gathers `520-` blocks."""

    __slots__ = ("_block",)

    def __init__(self) -> None:
        self._block: list[str] | None = None

    def reset(self) -> None:
        """Forget any partial reply: ready for the next command (cheaper than a new reader)."""
        self._block = None

    def feed(self, line: str) -> Reply | None:
        """Take one line; return the reply once complete, raise for error replies, None for more."""
        if self._block is not None:
            self._block.append(line)
            if line.startswith("520 "):
                text = "\n".join(self._block)
                self._block = None
                raise CommandRejected(520, text)
            if len(self._block) > MAX_ENV_LINES:
                raise ProtocolViolation("520 usage block too long")
            return None
        code = line[:4]
        if code == "200 ":
            return _shared_success(line) if len(line) <= 128 else parse_success(line)
        if code == "100 " or line == "100":
            return None
        if code == "520-":
            self._block = [line[4:]]
            return None
        if code == "511 ":
            raise DeadChannel(line[4:])
        if code in ("510 ", "520 "):
            raise CommandRejected(int(line[:3]), line[4:])
        raise ProtocolViolation(f"unexpected reply line: {line[:80]!r}")


class Framer:
    """The receive side of one session, without I/O: bytes in; the request once the environment
    block is complete, then the reply lines, with the limits of agi-protocol.md enforced.

    After `feed` sets `problem`, the peer broke the protocol: close the connection, feed no more.
    """

    __slots__ = ("_buffer", "_env", "problem")

    def __init__(self) -> None:
        self._buffer = b""
        self._env: list[bytes] | None = []
        self.problem = ""
        """Why the peer is not speaking FastAGI (set once), else ''."""

    def feed(self, data: bytes) -> tuple[AGIRequest | None, list[str]]:
        """Take what arrived: the request when the environment block ended in it, and the whole lines
        after the block (decoded, without line ends). Lines before a problem are still returned."""
        buffer = self._buffer + data if self._buffer else data
        start = 0
        request: AGIRequest | None = None
        lines: list[str] = []
        if self._env == []:  # nothing of the environment yet: it usually comes in one piece
            start, request = self._whole_environment(buffer)
            if self.problem:
                return None, lines
        while (end := buffer.find(b"\n", start)) >= 0:
            if end - start > MAX_LINE:
                self._broken(f"line over {MAX_LINE} bytes")
                return request, lines
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            env = self._env
            if env is None:
                lines.append(line.decode("utf-8", errors="replace"))
            elif line:
                # Lines are kept raw and parsed together at the blank line; a peer that is plainly
                # not Asterisk (an HTTP probe, a port scanner) is cut at its first line.
                problem = _env_line_problem(line, len(env) + 1)
                if problem:
                    self._broken(problem)
                    return None, lines
                env.append(line)
            else:
                self._env = None
                try:
                    request = parse_request(b"\n".join(env))
                except ProtocolViolation as exc:
                    self._broken(str(exc))
                    return None, lines
        self._buffer = buffer[start:]
        if len(self._buffer) > MAX_LINE:
            self._broken(f"line over {MAX_LINE} bytes")
        return request, lines

    def _whole_environment(self, buffer: bytes) -> tuple[int, AGIRequest | None]:
        """Take a whole environment block at once: the offset just past its blank line and the
        request, or (0, None) when it has not all arrived (or has CRs): `feed` then collects it
        line by line."""
        end = buffer.find(b"\n\n")
        if end < 0 or b"\r" in buffer[:end]:
            return 0, None
        block = buffer[:end]
        try:
            problem = _environment_problem(block)
            if problem:
                raise ProtocolViolation(problem)
            request = parse_request(block)
        except ProtocolViolation as exc:
            self._broken(str(exc))
            return 0, None
        self._env = None
        return end + 2, request

    def _broken(self, problem: str) -> None:
        self.problem = problem
        self._buffer = b""


def _environment_problem(block: bytes) -> str:
    """Why a whole environment block breaks the limits `feed` enforces line by line, else ''."""
    if len(block) <= MAX_LINE and block.count(b"\n") < MAX_ENV_LINES:
        return ""  # the usual block, settled without looking at each line (the parser checks them)
    for number, line in enumerate(block.split(b"\n"), 1):
        if len(line) > MAX_LINE:
            return f"line over {MAX_LINE} bytes"
        if problem := _env_line_problem(line, number):
            return problem
    return ""


def _env_line_problem(line: bytes, number: int) -> str:
    """Why line `number` of an environment block cannot be one (a peer that is plainly not
    Asterisk is cut at its first line), else ''."""
    if not line.startswith(b"agi_"):
        return f"not an AGI environment line: {line[:60]!r}"
    if number > MAX_ENV_LINES:
        return f"environment block over {MAX_ENV_LINES} lines"
    return ""
