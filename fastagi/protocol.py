"""FastAGI wire format as Asterisk 22's res_agi speaks it: environment block, commands, replies.

Sans-I/O: these functions turn bytes into values and values into bytes; fastagi.session does the I/O.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from fastagi.errors import CommandRejected, DeadChannel, ProtocolViolation, UnsafeValue

MAX_LINE = 8192
"""Longest line accepted from Asterisk, newline excluded (res_agi's own buffer is 8192 bytes)."""
MAX_ENV_LINES = 256
"""Most lines an environment block may have."""

_SHARED_VALUE = 48
_NEEDS_QUOTES = re.compile(r'[\s"\\]')
_KV_TAIL = re.compile(r"(?: [^\s=]+=\S*)*")


@dataclass(slots=True)
class AGIRequest:
    """What Asterisk told us when the session opened: the environment block, parsed."""

    env: dict[str, str]
    args: list[str]
    script: str
    query: dict[str, list[str]] = field(default_factory=dict)

    @property
    def uniqueid(self) -> str:
        """The channel's unique id."""
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        """The channel name, e.g. `PJSIP/pstn-00000001`."""
        return self.env.get("agi_channel", "")

    @property
    def callerid(self) -> str:
        """The caller's number, `unknown` when Asterisk has none."""
        return self.env.get("agi_callerid", "")

    @property
    def extension(self) -> str:
        """The dialplan extension that ran the AGI."""
        return self.env.get("agi_extension", "")


def parse_env_line(raw: bytes) -> tuple[str, str]:
    """Split one `agi_key: value` line of the environment block (newline already removed)."""
    ((key, value),) = parse_env_block([raw]).items()
    return key, value


def parse_env_block(lines: list[bytes]) -> dict[str, str]:
    """Parse the lines of an environment block (newlines removed) into a dict, in one decode."""
    env: dict[str, str] = {}
    for line in b"\n".join(lines).decode("utf-8", errors="replace").split("\n"):
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_") or " " in key:
            raise ProtocolViolation(f"not an AGI environment line: {line[:60]!r}")
        if value.startswith(" "):
            value = value[1:]
        # Every held call keeps its environment: share the names and the short values that repeat
        # from call to call (yes, en, Local, the version...) instead of keeping a copy per call.
        env[sys.intern(key)] = sys.intern(value) if len(value) <= _SHARED_VALUE else value
    return env


def build_request(env: dict[str, str]) -> AGIRequest:
    """Turn the collected environment into a request: ordered arguments, script path and query."""
    args: list[str] = []
    while (arg := env.get(f"agi_arg_{len(args) + 1}")) is not None:
        args.append(arg)
    script_field = env.get("agi_network_script", "")
    path, _, query = script_field.partition("?")
    return AGIRequest(
        env=env,
        args=args,
        script=path.strip("/"),
        query=parse_qs(query, keep_blank_values=True) if query else {},
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


def format_exec(app: str, options: str) -> bytes:
    """Encode `EXEC App "options"`: res_agi uses only the first token, so options are one quoted token."""
    if not app or not app.replace("_", "").isalnum():
        raise UnsafeValue(f"bad application name: {app[:40]!r}")
    return f"EXEC {app} {quote(options, always=True)}\n".encode()


@dataclass(slots=True, frozen=True)
class Reply:
    """A `200` reply: the result, the text in parentheses and any trailing key=value pairs."""

    result: str
    data: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> int:
        """The result as a number, -1 when it is empty or not a number."""
        try:
            return int(self.result)
        except ValueError:
            return -1


def parse_success(line: str) -> Reply:
    """Parse a `200 result=...` line."""
    if not line.startswith("200 result="):
        raise ProtocolViolation(f"malformed 200 reply: {line[:80]!r}")
    rest = line[11:]
    result, sep, tail = rest.partition(" ")
    if not sep:
        return Reply(result)
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
    return Reply(result, data, extra)


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
            return parse_success(line)
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
