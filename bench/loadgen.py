"""Load generator that plays Asterisk on the wire: one worker process, driven by bench.run over stdin/stdout.

Each call opens a TCP connection, sends the environment block Asterisk 22 sends (fastagi.client.environment)
and answers each command as Asterisk would:

- `GET FULL VARIABLE ${DID_FAILOVER_HOPS},...`   -> `200 result=1 (,)`
- `EXEC MSet ...`                                -> `200 result=0`
- `EXEC Dial ...`                                -> `200 result=0` (held sessions: only once released)
- `GET FULL VARIABLE ${DIALSTATUS},...`          -> `200 result=1 (ANSWER,16)`, `(BUSY,17)` or `(NOANSWER,19)`
- with `--hangup-pct`, that share of callers hang up while the primary rings: `HANGUP` then `(CANCEL,16)`.

A call counts as good when the server dialled what the call mix expects, sent the final result MSet the
decision implies, and closed the connection; anything else is an error, by kind.

Phases, each started by a line on stdin: park `--held` sessions inside EXEC Dial and print `parked`;
on `go`, run `--calls` calls (closed loop with `--concurrency`, or open loop at `--rate` calls/s) and print
`ran`; on `release`, let the held sessions finish, then print the result as one JSON line and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
from typing import Any

from bench import common
from fastagi.client import environment

RELEASE_TIMEOUT = 20.0
"""Seconds released sessions get to finish (three commands each); later is an error, not a wait."""

_OK_EXEC = b"200 result=0\n"
_COUNTERS_REPLY = b"200 result=1 (,)\n"
_STATUS = {
    "answer": b"200 result=1 (ANSWER,16)\n",
    "busy": b"200 result=1 (BUSY,17)\n",
    "noanswer": b"200 result=1 (NOANSWER,19)\n",
    "hangup": b"200 result=1 (CANCEL,16)\n",
}
_DECIDED = {
    "answer": b"200 result=1 (ANSWER,16,,ANSWERED)\n",
    "busy": b"200 result=1 (BUSY,17,,BUSY)\n",
    "noanswer": b"200 result=1 (NOANSWER,19,,NOANSWER)\n",
    "hangup": b"200 result=1 (CANCEL,16,,CALLER_HANGUP)\n",
}
"""The same, to did-failover's read-back with a look-ahead: the outcome a real channel decided on
(did_failover/routing/ahead.py), as if it made the assignments that go with it."""
_AHEAD_LEG = {
    "answer": b"?PRIMARY:",
    "busy": b"${SET(DID_FAILOVER_LEG=BUSY)}",
    "noanswer": b"${SET(DID_FAILOVER_LEG=NO_ANSWER)}",
    "hangup": b"?PRIMARY:",
}
"""What the read-back that sets the result ahead holds for the leg each kind of call ends on."""
# What each kind of call must end with: (Dial lines expected after the primary, final result MSet).
_EXPECT = {
    "answer": (
        None,
        b"DID_FAILOVER_RESULT=ANSWERED,DID_FAILOVER_LEG=PRIMARY,DID_FAILOVER_STEP=,DID_FAILOVER_DIALSTATUS=ANSWER",
    ),
    "busy": (common.DIAL_BUSY, b"DID_FAILOVER_RESULT=ANSWERED,DID_FAILOVER_LEG=BUSY,"),
    "noanswer": (common.DIAL_NO_ANSWER, b"DID_FAILOVER_RESULT=ANSWERED,DID_FAILOVER_LEG=NO_ANSWER,"),
    "hangup": (None, b"DID_FAILOVER_RESULT=CALLER_HANGUP,DID_FAILOVER_LEG=PRIMARY,"),
}


class Worker:
    """Counters and shared state of one worker process."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.loop = asyncio.get_running_loop()
        self.rng = random.Random(args.seed)
        # Like Asterisk: every call has its own uniqueid, channel name, caller number and thread.
        self.envs = []
        for i in range(common.DIDS):
            number = common.did(i)
            block = environment(
                "did-failover",
                args=[number],
                extension=number,
                uniqueid="@@ID@@",
                callerid="1555@@ID@@",
                threadid="14@@ID@@",
            )
            block = block.replace(b"from-pstn-00000000;2", b"from-pstn-@@ID@@;2")
            self.envs.append(block.split(b"@@ID@@"))
        self.seq = 0
        self.errors: dict[str, int] = {}
        self.ok = 0
        self.delays: list[int] = []
        self.held_delays: list[int] = []
        self.parked: list[Call] = []
        self.parked_event = asyncio.Event()
        self.holding = 0

    def env(self) -> bytes:
        """A fresh environment block for the next DID, with its own uniqueid."""
        self.seq += 1
        parts = self.envs[self.seq % common.DIDS]
        unique = b"%d%08d" % (self.args.seed, self.seq)
        return unique.join(parts)

    def kind(self) -> str:
        """Draw the next call from the mix: 60 % answered, 20 % busy, 20 % no answer (+ hang-ups)."""
        r = self.rng.random() * 100
        if r < self.args.hangup_pct:
            return "hangup"
        r = self.rng.random() * 100
        return "answer" if r < 60 else "busy" if r < 80 else "noanswer"

    def error(self, kind: str) -> None:
        """Count one failed call."""
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Call(asyncio.Protocol):
    """One Asterisk channel running AGI(): answers the server's commands until it closes."""

    __slots__ = (
        "ahead",
        "bad",
        "buf",
        "delay",
        "dialled",
        "dials",
        "done",
        "env",
        "final",
        "hold",
        "kind",
        "t0",
        "transport",
        "worker",
    )

    def __init__(self, worker: Worker, kind: str, hold: bool) -> None:
        self.worker = worker
        self.kind = kind
        self.hold = hold
        self.env = worker.env()
        self.buf = b""
        self.dials = 0
        self.delay = -1
        self.t0 = 0
        self.final = b""
        self.ahead = b""
        self.bad = ""
        self.transport: Any = None
        self.done: asyncio.Future[None] = worker.loop.create_future()
        self.dialled: asyncio.Future[None] | None = worker.loop.create_future() if hold else None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.env)
        self.t0 = time.perf_counter_ns()

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            self._line(buf[start:end])
            start = end + 1
        self.buf = buf[start:]

    def _line(self, line: bytes) -> None:
        write = self.transport.write
        if line.startswith(b"EXEC Dial "):
            self.dials += 1
            if self.dials == 1:
                self.delay = time.perf_counter_ns() - self.t0
                if self.dialled is not None:
                    self.dialled.set_result(None)
                    self.worker.parked.append(self)
                    if len(self.worker.parked) >= self.worker.holding:
                        self.worker.parked_event.set()
                    return
                if self.kind == "hangup":
                    write(b"HANGUP\n" + _OK_EXEC)
                    return
            elif self.dials == 2:
                if line + b"\n" != _EXPECT[self.kind][0]:
                    self.bad = "wrong_transfer_dial"
            else:
                self.bad = "too_many_dials"
            write(_OK_EXEC)
        elif line.startswith(b"EXEC MSet "):
            if b"DID_FAILOVER_RESULT=" in line:
                self.final = line
            write(_OK_EXEC)
        elif line.startswith((b"GET FULL VARIABLE ${DIALSTATUS}", b'GET FULL VARIABLE "${DIALSTATUS}')):
            kind = self.kind if self.dials == 1 else "answer"
            if b"DID_FAILOVER_OUTCOME" in line:
                write(_DECIDED[kind])
                if b"DID_FAILOVER_RESULT" in line:
                    self.ahead = line
            else:
                write(_STATUS[kind])
        elif line.startswith(b"GET FULL VARIABLE ${DID_FAILOVER_HOPS}"):
            write(_COUNTERS_REPLY)
        elif line.startswith(b"failure"):
            self.bad = "failure"
        else:
            self.bad = "unexpected_command"
            write(b"510 Invalid or unknown command\n")

    def release(self) -> None:
        """The held Dial ends: the destination answered, then hung up."""
        if not self.transport.is_closing():
            self.transport.write(_OK_EXEC)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        if self.dialled is not None and not self.dialled.done():
            self.dialled.set_result(None)
        dial, final = _EXPECT[self.kind]
        if not self.bad:
            if exc is not None:
                self.bad = "reset"
            elif self.dials != (2 if dial else 1):
                self.bad = "wrong_dial_count"
            elif self.final:
                if not self.final.startswith(b'EXEC MSet "' + final):
                    self.bad = "wrong_result"
            elif _AHEAD_LEG[self.kind] not in self.ahead:
                self.bad = "wrong_result"
        self.done.set_result(None)


async def _call(worker: Worker, kind: str, hold: bool, record: list[int]) -> Call | None:
    loop = worker.loop
    call = Call(worker, kind, hold)
    try:
        await loop.create_connection(lambda: call, worker.args.host, worker.args.port)
    except OSError as exc:
        worker.error(f"connect:{type(exc).__name__}")
        if hold:
            worker.holding -= 1
            if len(worker.parked) >= worker.holding:
                worker.parked_event.set()
        return None
    if hold:
        return call
    await call.done
    if call.bad:
        worker.error(call.bad)
    else:
        worker.ok += 1
        record.append(call.delay)
    return call


async def _finish(worker: Worker, call: Call) -> None:
    await call.done
    if call.bad:
        worker.error(call.bad)
    else:
        worker.ok += 1


async def _closed_loop(worker: Worker, calls: int, concurrency: int) -> None:
    remaining = calls

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await _call(worker, worker.kind(), False, worker.delays)

    await asyncio.gather(*(lane() for _ in range(min(concurrency, calls))))


async def _open_loop(worker: Worker, calls: int, rate: float) -> None:
    started = 0
    tasks: set[asyncio.Task[Any]] = set()
    begin = time.perf_counter()
    while started < calls:
        due = min(calls, int((time.perf_counter() - begin) * rate) + 1)
        while started < due:
            started += 1
            task = asyncio.ensure_future(_call(worker, worker.kind(), False, worker.delays))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.001)
    if tasks:
        await asyncio.gather(*tasks)


async def _park(worker: Worker, held: int) -> list[asyncio.Task[Any]]:
    """Open `held` sessions, at most 256 connecting at once, and wait until each sits inside Dial."""
    worker.holding = held
    if held == 0:
        return []
    gate = asyncio.Semaphore(256)
    tasks = []

    async def one() -> None:
        async with gate:
            call = await _call(worker, "answer", True, worker.held_delays)
            if call is not None and call.dialled is not None:
                # The connecting window moves on once this session sits inside Dial (or has ended).
                await call.dialled

    for _ in range(held):
        tasks.append(asyncio.ensure_future(one()))
    await asyncio.gather(*tasks)
    return tasks


async def _read_command() -> str:
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    return line.strip()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run the phases and return the figures."""
    worker = Worker(args)
    try:
        await asyncio.wait_for(_park(worker, args.held), args.timeout)
        await asyncio.wait_for(worker.parked_event.wait() if worker.holding else asyncio.sleep(0), 5)
    except TimeoutError:
        worker.error("park_timeout")
    parked = list(worker.parked)
    print(f"parked {len(parked)}", flush=True)
    if await _read_command() != "go":
        raise SystemExit("expected go")
    cpu0 = os.times()
    t0 = time.perf_counter()
    try:
        if args.rate:
            await asyncio.wait_for(_open_loop(worker, args.calls, args.rate), args.timeout)
        else:
            await asyncio.wait_for(_closed_loop(worker, args.calls, args.concurrency), args.timeout)
    except TimeoutError:
        worker.error("run_timeout")
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    print("ran", flush=True)
    if await _read_command() != "release":
        raise SystemExit("expected release")
    for call in parked:
        worker.held_delays.append(call.delay)
        call.release()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(_finish(worker, c) for c in parked)), min(args.timeout, RELEASE_TIMEOUT)
        )
    except TimeoutError:
        worker.error("release_timeout")
    return {
        "ok": worker.ok,
        "errors": worker.errors,
        "parked": len(parked),
        "wall_s": wall,
        "cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "delays_ns": worker.delays,
        "held_delays_ns": worker.held_delays,
    }


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--held", type=int, default=0)
    p.add_argument("--calls", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rate", type=float, default=0.0, help="calls/s of this worker; 0 = closed loop")
    p.add_argument("--hangup-pct", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=120.0, help="bound of each phase, in seconds")
    return p.parse_args(argv)


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop

    result = uvloop.run(main(_parse()))
    sys.stdout.write(json.dumps(result) + "\n")
