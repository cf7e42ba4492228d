"""The SIP benchmark: real calls through the test-bed Asterisk 22, forwarded busy -> answer three ways.

    .venv/bin/python -m bench.sip.run            # interleaved rounds, then the stepped rates (make bench-sip)
    .venv/bin/python -m bench.sip.run --smoke    # a few dozen calls each way, no stepping (CI)

SIPp plays the carrier (127.0.0.2), a primary phone that answers 486 Busy Here (127.0.0.3) and a
forward target that answers 200 OK (127.0.0.4); bench/sip/*.conf are the endpoints and dialplan the
test bed includes. The three ways:
- `dialplan`: [bench-in] forwards by itself (Dial, DIALSTATUS, Dial): the floor.
- `agi+ami`: the sample [from-pstn] runs did-failover (MariaDB, AMI on, as the samples ship it).
- `agi`: the same without AMI.

Each run measures the CPU of Asterisk and of `did-failover serve` from /proc, less what each uses
idle over as long a stretch just before; the failover gap of each call (486 sent by the busy phone
-> INVITE received by the forward target, paired by X-Bench-Id, one clock: same host); and how many
calls completed. Stepping the rate finds, per way, the highest achieved rate with at least 99.9 % of
the calls complete (achieved, not asked: SIPp falls behind quietly when the box saturates).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from tests.support.db import MARIADB
from tests.testbed.asterisk import AGI_PORT, AMI_PORT, SIP_PORT, AsteriskTestbed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
SERVE = Path(sys.executable).with_name("did-failover")
TICKS = os.sysconf("SC_CLK_TCK")

AGI_DID = "15570000001"
DIALPLAN_DID = "15580000001"
ACCOUNT = "9001"
CARRIER = "127.0.0.2"
BUSY_PHONE = ("127.0.0.3", 15062)
FORWARD_TARGET = ("127.0.0.4", 15064)
AMI_URL = f"ami://did-failover-logger:change-me-to-a-long-random-secret@127.0.0.1:{AMI_PORT}"
"""The AMI user of the sample asterisk/manager.conf, which the test bed loads."""
WAYS = ("dialplan", "agi+ami", "agi")
"""The ways every round runs; `WAY~PIECE` (`agi~look_ahead`) is WAY with that piece of the server's
work off (bench/ablate), for a before/after inside one interleaved run."""
TARGETS = {"agi+ami": (12, 85), "agi": (8, 98)}
"""Issue 29's targets per way: server CPU at most N % of Asterisk's; sustained rate at least N % of
the dialplan's."""
WITHOUT: list[str] = []
"""Pieces of the server's per-call work made no-ops (`--without`, as in bench.run: bench/ablate)."""
COMPLETE = 0.999
TRACED: list[Run] = []
"""The `--strace` runs of the last `measure` (their CPU figures are not valid)."""
"""Share of calls that must complete for a stepped rate to count as sustained."""


@dataclass
class Run:
    """What one run of one way measured."""

    way: str
    asked_rate: float
    calls: int
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0
    asterisk_ms_per_call: float | None = None
    server_ms_per_call: float | None = None
    gaps_ms: list[float] = field(default_factory=list)
    syscalls: dict[str, dict[str, float]] = field(default_factory=dict)
    """With `--strace`: per process, system calls per completed call by name (CPU is then not valid)."""

    @property
    def achieved_rate(self) -> float:
        """Completed calls per second of the run."""
        return self.completed / self.seconds if self.seconds else 0.0

    @property
    def complete_share(self) -> float:
        """Completed calls over asked calls."""
        return self.completed / self.calls if self.calls else 0.0

    def summary(self) -> dict[str, Any]:
        """The run as JSON-ready figures (gaps as p50/p99/max)."""
        out = asdict(self)
        out.pop("gaps_ms")
        out.update(
            achieved_rate=round(self.achieved_rate, 1),
            complete_share=round(self.complete_share, 4),
            gap_ms=_percentiles(self.gaps_ms),
        )
        return out


def _percentiles(values: Sequence[float]) -> dict[str, float | int] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max": round(ordered[-1], 2),
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# -- the database ------------------------------------------------------------------------------------


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A fresh MariaDB database with one customer and the did-failover DID, dropped afterwards."""
    name = f"didfo_sipbench_{secrets.token_hex(4)}"
    admin = pymysql.connect(**MARIADB, autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    url = f"mysql://root@127.0.0.1:3306/{name}"
    try:
        asyncio.run(fill(url))
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


async def fill(url: str) -> None:
    """The schema, one customer and the did-failover DID: primary busy phone, BUSY -> forward target."""
    from did_failover.admin.service import ADMIN, Service
    from did_failover.storage import open_repository

    repo = open_repository(url, 5.0)
    try:
        service = Service(repo)
        await service.init_db()
        await service.add_account(ADMIN, ACCOUNT, "SIP bench customer", "customer")
        await service.add_did(ADMIN, AGI_DID, ACCOUNT, "endpoint:bench-busy", ring_timeout=20)
        await service.set_transfer(ADMIN, AGI_DID, busy="endpoint:bench-answer", enabled=True)
    finally:
        await repo.close()


# -- the processes -----------------------------------------------------------------------------------


class Server:
    """`did-failover serve` on the test bed's AGI port, its log in a file."""

    def __init__(
        self, url: str, ami: bool, folder: Path, serve: Path = SERVE, without: Sequence[str] = ()
    ) -> None:
        self.serve = serve
        metrics = _free_tcp_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")},
            "DID_FAILOVER_DATABASE_URL": url,
            "DID_FAILOVER_LISTEN": f"127.0.0.1:{AGI_PORT}",
            # As the README's production config (systemd/config.toml): metrics and health on.
            "DID_FAILOVER_METRICS_LISTEN": f"127.0.0.1:{metrics}",
            "DID_FAILOVER_LOG_FORMAT": "json",
            "DID_FAILOVER_DIAL_OPTIONS": "b(bench-predial^s^1)",
            "DID_FAILOVER_AMI_URL": AMI_URL if ami else "",
        }
        pieces = [*WITHOUT, *without]
        if pieces:
            self.env["PYTHONPATH"] = f"{ROOT / 'bench' / 'ablate'}{os.pathsep}{ROOT}"
            self.env["DID_FAILOVER_BENCH_WITHOUT"] = ",".join(pieces)
        self.log_path = folder / f"serve-{'ami' if ami else 'noami'}-{time.monotonic_ns()}.log"
        self.ami = ami
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start and wait for `listening` (and, with AMI, `AMI connected`)."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(self.serve), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wanted = "AMI connected" if self.ami else "listening"
        deadline = time.monotonic() + timeout
        while f'"event": "{wanted}"' not in self.log_path.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 15 s."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _check_free(host: str, port: int) -> None:
    """Refuse to start when something holds the phone's fixed UDP address (the test bed's pjsip.conf
    names it as the endpoint's contact, so it cannot be chosen at run time)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RuntimeError(f"bench-sip: {host}:{port}/udp is in use ({exc.strerror})") from None


class Phone:
    """A SIPp UAS (the busy primary or the forward target) whose log lines say when it acted."""

    def __init__(self, scenario: str, address: tuple[str, int], folder: Path) -> None:
        self.log_path = folder / f"{scenario}-{time.monotonic_ns()}.log"
        host, port = address
        _check_free(host, port)
        self.proc = subprocess.Popen(
            [
                "sipp", "-sf", str(HERE / f"{scenario}.xml"), "-i", host, "-p", str(port),
                "-mi", host, "-mp", str(port + 10000), "-nostdin", "-aa", "-trace_logs",
                "-log_file", str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> list[tuple[str, float]]:
        """Stop it and return (bench id, UNIX time) of every action it logged."""
        self.proc.send_signal(signal.SIGUSR1)  # SIPp's graceful stop: it writes out its log
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        seen = []
        if self.log_path.exists():
            for line in self.log_path.read_text(errors="replace").splitlines():
                words = line.split()
                if len(words) == 4 and words[0] in ("busy", "answer"):
                    with contextlib.suppress(ValueError):
                        seen.append((words[1], float(words[2]) + float(words[3]) / 1e6))
        return seen


def _carrier(did: str, rate: float, calls: int, folder: Path, timeout: float) -> tuple[int, int, float, str]:
    """Run the carrier UAC to the end: (successful, failed, seconds, the `-PID@` its Call-IDs hold)."""
    stat = folder / f"uac-{time.monotonic_ns()}.csv"
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            "sipp", f"127.0.0.1:{SIP_PORT}", "-sf", str(HERE / "uac.xml"), "-s", did,
            "-i", CARRIER, "-p", "0", "-mi", CARRIER, "-mp", "25000",
            "-r", f"{rate:g}", "-m", str(calls), "-l", "2000", "-nostdin", "-aa",
            "-timeout", f"{timeout:g}", "-trace_stat", "-stf", str(stat), "-fd", "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        proc.wait(timeout + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    seconds = time.monotonic() - started
    successful = failed = 0
    if stat.exists():
        rows = [line.split(";") for line in stat.read_text().splitlines() if line.strip()]
        if len(rows) >= 2:
            header, last = rows[0], rows[-1]
            successful = int(last[header.index("SuccessfulCall(C)")])
            failed = int(last[header.index("FailedCall(C)")])
    return successful, failed, seconds, f"-{proc.pid}@"


# -- one run -----------------------------------------------------------------------------------------


def run_way(
    way: str,
    rate: float,
    calls: int,
    url: str,
    asterisk_pid: int,
    folder: Path,
    warmup: int = 20,
    serve: Path = SERVE,
    profile: bool = False,
    trace: bool = False,
) -> Run:
    """One way at one rate: warm-up, idle CPU, the calls, the figures."""
    base, _, without = way.partition("~")
    server = (
        Server(url, ami=base == "agi+ami", folder=folder, serve=serve, without=[w for w in [without] if w])
        if base != "dialplan"
        else None
    )
    did = DIALPLAN_DID if way == "dialplan" else AGI_DID
    result = Run(way, rate, calls)
    if server is not None:
        server.start()
    try:
        pids = {"asterisk": asterisk_pid}
        if server is not None and server.proc is not None:
            pids["server"] = server.proc.pid
        busy = Phone("uas-busy", BUSY_PHONE, folder)
        target = Phone("uas-answer", FORWARD_TARGET, folder)
        try:
            time.sleep(0.3)
            if warmup:
                _carrier(did, min(rate, 20), warmup, folder, 30)
            idle_window = 2.0
            before_idle = {name: cpu_seconds(pid) for name, pid in pids.items()}
            time.sleep(idle_window)
            idle = {name: (cpu_seconds(pid) - before_idle[name]) / idle_window for name, pid in pids.items()}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            profiler = (
                _profiler(pids["server"], folder / f"profile-{way}.txt")
                if profile and "server" in pids
                else None
            )
            tracers = (
                {name: _tracer(pid, folder / f"strace-{name}-{way}.txt") for name, pid in pids.items()}
                if trace
                else {}
            )
            result.completed, result.failed, result.seconds, marker = _carrier(
                did, rate, calls, folder, timeout=calls / rate + 60
            )
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            for tracer in tracers.values():
                tracer.send_signal(signal.SIGINT)
                tracer.wait(30)
            used = {
                name: cpu_seconds(pid) - before[name] - idle[name] * result.seconds
                for name, pid in pids.items()
            }
        finally:
            busy_seen = dict(busy.stop())
            target_seen = dict(target.stop())
    finally:
        if server is not None:
            server.stop()
    if result.completed:
        result.asterisk_ms_per_call = round(used["asterisk"] * 1000 / result.completed, 3)
        if "server" in used:
            result.server_ms_per_call = round(used["server"] * 1000 / result.completed, 3)
    if result.completed:
        for name in tracers:
            counts = _strace_counts(folder / f"strace-{name}-{way}.txt")
            result.syscalls[name] = {k: round(v / result.completed, 2) for k, v in counts.items()}
    result.gaps_ms = [
        (target_seen[bench_id] - sent) * 1000
        for bench_id, sent in busy_seen.items()
        if marker in bench_id and bench_id in target_seen and target_seen[bench_id] >= sent
    ]
    return result


def _tracer(pid: int, path: Path) -> subprocess.Popen[bytes]:
    """strace counting the system calls of every thread of `pid` (and new ones) until SIGINT."""
    threads = [arg for tid in sorted(os.listdir(f"/proc/{pid}/task")) for arg in ("-p", tid)]
    proc = subprocess.Popen(
        ["strace", "-c", "-f", "-o", str(path), *threads],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # attached before the calls start
    return proc


def _strace_counts(path: Path) -> dict[str, int]:
    """`strace -c`'s table as {syscall: calls}, with `total`."""
    counts: dict[str, int] = {}
    if not path.exists():
        return counts
    for line in path.read_text().splitlines():
        words = line.split()
        if len(words) >= 5 and words[0][0].isdigit() and words[3].isdigit():
            counts[words[-1]] = int(words[3])
        elif len(words) >= 4 and words[-1] == "total" and words[2].isdigit():
            counts["total"] = int(words[2])
    return counts


def _profiler(pid: int, path: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `serve` (collapsed stacks, idle frames left out) until SIGINT."""
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "-o", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_summary(path: Path, top: int = 18) -> str:
    """The functions a collapsed-stack profile spent its samples in: inclusive share, top first."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for frame in set(stack.split(";")):
            name = (
                frame.split(" (", 1)[0] + " " + frame.rsplit("/", 1)[-1].split(":", 1)[0]
                if "(" in frame
                else frame
            )
            inclusive[name] = inclusive.get(name, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return (
        "\n".join(f"  {count / total * 100:5.1f}%  {name}" for name, count in ranked)
        if total
        else "  (empty)"
    )


# -- report ------------------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def report(rounds: list[Run], steps: list[Run]) -> str:
    """The table: per way, medians over the interleaved rounds; the stepped rates; the target ratios."""
    lines = ["", "== interleaved rounds (median per way) =="]
    lines.append(
        f"{'way':<10} {'runs':>4} {'calls':>6} {'done %':>7} {'ast ms/call':>11} {'srv ms/call':>11}"
        f" {'srv/ast':>7} {'gap p50':>8} {'gap p99':>8} {'gap max':>8}"
    )
    stats: dict[str, dict[str, Any]] = {}
    ways = list(dict.fromkeys(r.way for r in [*rounds, *steps]))
    for way in ways:
        runs = [r for r in rounds if r.way == way]
        if not runs:
            continue
        gaps = _percentiles([g for r in runs for g in r.gaps_ms]) or {}
        ast = _median([r.asterisk_ms_per_call for r in runs])
        srv = _median([r.server_ms_per_call for r in runs])
        done = sum(r.completed for r in runs) / max(1, sum(r.calls for r in runs)) * 100
        stats[way] = {"ast": ast, "srv": srv, **gaps}
        share = f"{srv / ast * 100:6.1f}%" if srv is not None and ast else "      -"
        cells = f"{_fmt(gaps.get('p50')):>8} {_fmt(gaps.get('p99')):>8} {_fmt(gaps.get('max')):>8}"
        lines.append(
            f"{way:<10} {len(runs):>4} {sum(r.calls for r in runs):>6} {done:>7.2f} {_fmt(ast):>11}"
            f" {_fmt(srv):>11} {share:>7} {cells}"
        )
    sustained: dict[str, float] = {}
    if steps:
        lines += ["", "== stepped rates (asked -> achieved calls/s, complete %) =="]
        for way in ways:
            runs = [r for r in steps if r.way == way]
            if not runs:
                continue
            cells = "  ".join(
                f"{r.asked_rate:g}->{r.achieved_rate:.0f} ({r.complete_share * 100:.1f}%)" for r in runs
            )
            complete = [r.achieved_rate for r in runs if r.complete_share >= COMPLETE]
            if complete:
                sustained[way] = max(complete)
            lines.append(f"{way:<10} sustained {sustained.get(way, 0):>5.0f}   {cells}")
    floor = stats.get("dialplan", {})
    if floor:
        lines += ["", "== targets (did-failover against the dialplan floor) =="]
        for way in ways:
            s = stats.get(way)
            if way == "dialplan":
                continue
            share_target, rate_target = TARGETS[way.partition("~")[0]]
            if not s:
                continue
            parts = []
            if s.get("srv") is not None and s.get("ast"):
                parts.append(
                    f"server/Asterisk CPU {s['srv'] / s['ast'] * 100:.1f}% (target <= {share_target}%)"
                )
            if "p50" in s and "p50" in floor:
                parts.append(f"gap p50 {s['p50'] - floor['p50']:+.2f} ms (<= +1)")
                parts.append(f"gap p99 {s['p99'] - floor['p99']:+.2f} ms (<= +3)")
            if way in sustained and sustained.get("dialplan"):
                parts.append(
                    f"rate {sustained[way] / sustained['dialplan'] * 100:.0f}% of the floor's"
                    f" (>= {rate_target}%)"
                )
            lines.append(f"{way:<10} " + "; ".join(parts))
    return "\n".join(lines)


def _fmt(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and the steps, print the table, write the JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=100.0, help="calls per second in the rounds")
    p.add_argument("--calls", type=int, default=1000, help="calls per run in the rounds")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every way")
    p.add_argument("--steps", default="200,300,400,500,600", help="rates to step through ('' for none)")
    p.add_argument("--step-seconds", type=float, default=8.0, help="seconds of calls per step")
    p.add_argument("--ways", default=",".join(WAYS))
    p.add_argument("--smoke", action="store_true", help="30 calls per way at 10/s, one round, no steps")
    p.add_argument("--output", type=Path, help="JSON file (default bench/results/sip-DATE.json)")
    p.add_argument("--serve", type=Path, default=SERVE, help="the did-failover console script to run")
    p.add_argument("--profile", action="store_true", help="py-spy the server in each round; summary printed")
    p.add_argument(
        "--strace",
        action="store_true",
        help="then one more run per way under strace -c: system calls per call (no CPU figures)",
    )
    p.add_argument("--without", default="", help="history,log,metrics: make that per-call work a no-op")
    args = p.parse_args(argv)
    if shutil.which("sipp") is None:
        print("bench-sip: sipp not found: apt-get install sip-tester", file=sys.stderr)
        return 1
    if args.smoke:
        args.rate, args.calls, args.rounds, args.steps = 10.0, 30, 1, ""
    ways = [w for w in args.ways.split(",") if w]
    WITHOUT[:] = [piece for piece in args.without.split(",") if piece]
    folder = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    testbed = AsteriskTestbed()
    testbed.start()
    try:
        assert testbed.process is not None
        with database() as url:
            rounds, steps = measure(testbed.process.pid, ways, args, folder, url)
    finally:
        testbed.shutdown()
    print(report(rounds, steps))
    if TRACED:
        print("\n== system calls per completed call (strace -c; top 6 and total) ==")
        for run in TRACED:
            for name, counts in run.syscalls.items():
                top = sorted(((v, k) for k, v in counts.items() if k != "total"), reverse=True)[:6]
                cells = "  ".join(f"{k} {v:g}" for v, k in top)
                print(f"{run.way:<20} {name:<9} total {counts.get('total', 0):g}   {cells}")
    output = args.output or RESULTS / f"sip-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "rounds": [r.summary() for r in rounds],
                "steps": [r.summary() for r in steps],
                "strace": [r.summary() for r in TRACED],
            },
            indent=2,
        )
    )
    print(f"\nJSON: {output}; logs: {folder}")
    incomplete = [r for r in rounds if r.completed < r.calls]
    return 1 if args.smoke and incomplete else 0


def measure(
    asterisk_pid: int, ways: list[str], args: argparse.Namespace, folder: Path, url: str
) -> tuple[list[Run], list[Run]]:
    """The interleaved rounds, then the steps, against a running test bed and a filled database."""
    rounds: list[Run] = []
    steps: list[Run] = []
    serve = getattr(args, "serve", SERVE)
    for _ in range(args.rounds):
        for way in ways:
            profile = bool(getattr(args, "profile", False))
            run = run_way(way, args.rate, args.calls, url, asterisk_pid, folder, serve=serve, profile=profile)
            print(f"-- round {way}: {json.dumps(run.summary())}", flush=True)
            if profile and (folder / f"profile-{way}.txt").exists():
                print(profile_summary(folder / f"profile-{way}.txt"), flush=True)
            rounds.append(run)
    if getattr(args, "strace", False):
        for way in ways:
            run = run_way(way, args.rate, args.calls, url, asterisk_pid, folder, serve=serve, trace=True)
            print(f"-- strace {way}: {json.dumps(run.syscalls)}", flush=True)
            TRACED.append(run)
    for rate in [float(r) for r in args.steps.split(",") if r]:
        for way in ways:
            calls = int(rate * args.step_seconds)
            run = run_way(way, rate, calls, url, asterisk_pid, folder, warmup=10, serve=serve)
            print(f"-- step {way} {rate:g}/s: {json.dumps(run.summary())}", flush=True)
            steps.append(run)
    return rounds, steps


if __name__ == "__main__":
    sys.exit(main())
