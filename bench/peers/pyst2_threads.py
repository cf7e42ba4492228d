"""Peer (2): thread-per-call FastAGI in the wazo-agid / Asterisk-Java pattern, on pyst2's AGI class.

socketserver.ThreadingTCPServer gives each connection its own thread; pyst2's AGI reads the environment
and runs each command over the socket's file objects. Same command sequence as did-failover.
"""

from __future__ import annotations

import io
import signal
import socketserver
import threading
from typing import Any

from asterisk.agi import AGI

from bench import common
from bench.peers._serve import parse_args


class SocketAGI(AGI):  # type: ignore[misc]
    """pyst2's AGI over a socket: no SIGHUP handler (threads cannot install one; FastAGI has none)."""

    def __init__(self, rfile: Any, wfile: Any) -> None:
        self.stdin = rfile
        self.stdout = wfile
        self.stderr = _NULL  # pyst2 traces every line (and pformats the environment) to stderr
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self._get_agi_env()


class _Null:
    def write(self, _: str) -> None:
        pass


_NULL = _Null()


def _data(reply: dict[str, Any]) -> str:
    return str(reply["result"][1])


def _command(agi: SocketAGI, line: bytes) -> dict[str, Any]:
    result: dict[str, Any] = agi.execute(line.decode().rstrip("\n"))
    return result


class Handler(socketserver.StreamRequestHandler):
    """One call, on its own thread."""

    def handle(self) -> None:
        rfile = io.TextIOWrapper(self.rfile, encoding="utf-8", newline="\n")
        wfile = io.TextIOWrapper(self.wfile, encoding="utf-8", newline="\n", write_through=True)
        agi = SocketAGI(rfile, wfile)
        number = agi.env["agi_arg_1"]
        hops = _data(_command(agi, common.COUNTERS)).partition(",")[0]
        _command(agi, common.prepare(int(hops) if hops.isdigit() else 0))
        _command(agi, common.dial_primary(number))
        status = _data(_command(agi, common.STATUS))
        reason, leg, dial = common.next_step(status)
        if dial is not None:
            _command(agi, common.redirecting(number, reason, 1))
            _command(agi, dial)
            status = _data(_command(agi, common.STATUS))
        final = common.result(
            "ANSWERED" if status.startswith("ANSWER") else "ERROR", leg, status.partition(",")[0]
        )
        _command(agi, final)


class Server(socketserver.ThreadingTCPServer):
    """Thread per connection, as wazo-agid does."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096


def main(port: int) -> None:
    """Serve until SIGTERM."""
    server = Server(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main(parse_args(__doc__.splitlines()[0]).port)
