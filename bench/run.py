"""Run the benchmark: did-failover and its peers, same scenarios, side by side; table + JSON.

    .venv/bin/python -m bench.run            # full run (make bench)
    .venv/bin/python -m bench.run --quick    # smaller scenarios, about a minute (make bench-quick)

Every server runs as its own process on 127.0.0.1, a fresh one per scenario; its CPU comes from
/proc/PID/stat (utime+stime, all threads) and its memory from /proc/PID/status (VmRSS).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common
from bench.loadgen import RELEASE_TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

WITHOUT: list[str] = []
"""Pieces of did-failover's per-call work replaced by no-ops (`--without`, bench/ablate)."""

SERVERS = ("did-failover", "panoramisk", "pyst2-threads", "bare-asyncio", "bare-asyncio-stdlib")
VARIANTS = {"did-failover-nopoll": {"DID_FAILOVER_CHANGE_POLL": "0"}}
"""did-failover with settings changed, run beside it (`--servers did-failover,did-failover-nopoll`)."""
"""Peers run on uvloop like did-failover; bare-asyncio-stdlib is the same skeleton on asyncio's own loop."""


@dataclass
class Scenario:
    """One load shape; the totals are split evenly over the generator's worker processes."""

    name: str
    held: int = 0
    calls: int = 0
    rate: float = 0.0
    concurrency: int = 50
    hangup_pct: float = 0.0


def scenarios(quick: bool) -> list[Scenario]:
    """The issue-7 scenarios, full or quick, and `steady` (a fixed rate for a minute, or 15 s quick: the
    webhook benchmark's, not run unless named)."""
    if quick:
        return [
            Scenario("mix", calls=4000, concurrency=50),
            Scenario("burst", held=1000, calls=2000, rate=1000),
            Scenario("held", held=2000),
            Scenario("steady", calls=3000, rate=200),
        ]
    return [
        Scenario("mix", calls=12000, concurrency=50),
        Scenario("burst", held=5000, calls=8000, rate=1000),
        Scenario("held", held=10000),
        Scenario("steady", calls=12000, rate=200),
    ]


# -- database ---------------------------------------------------------------------------------------


def setup_database(path: Path) -> str:
    """Create the benchmark database: schema, accounts and the first DID through the CLI, the rest
    through did_failover.admin.service (one process instead of 600)."""
    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    seed(url)
    return url


def seed(url: str) -> None:
    """The benchmark's schema, accounts and DIDs in the (empty) database at `url`."""
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": url}
    cli = [str(Path(PYTHON).with_name("did-failover"))]
    first = common.did(0)
    for args in (
        ["db", "init"],
        ["account", "add", common.RESELLER, "--name", "Reseller One", "--type", "reseller"],
        [
            "account",
            "add",
            common.ACCOUNT,
            "--name",
            "Acme Ltd",
            "--type",
            "customer",
            "--reseller",
            common.RESELLER,
        ],
        [
            "did",
            "add",
            first,
            "--account",
            common.ACCOUNT,
            "--primary",
            common.primary_dest(0),
            "--ring-timeout",
            str(common.RING_TIMEOUT),
        ],
        [
            "transfer",
            "set",
            first,
            "--busy",
            common.BUSY_DEST,
            "--no-answer",
            common.NO_ANSWER_DEST,
            "--timeout",
            str(common.TRANSFER_TIMEOUT),
            "--on",
        ],
    ):
        subprocess.run(cli + args, env=env, check=True, stdout=subprocess.DEVNULL)
    asyncio.run(_add_dids(url))


async def _add_dids(url: str) -> None:
    from did_failover.admin.service import ADMIN, Service
    from did_failover.storage import open_repository

    repo = open_repository(url, 5.0)
    try:
        service = Service(repo)
        for i in range(1, common.DIDS):
            await service.add_did(
                ADMIN, common.did(i), common.ACCOUNT, common.primary_dest(i), common.RING_TIMEOUT
            )
            await service.set_transfer(
                ADMIN,
                common.did(i),
                busy=common.BUSY_DEST,
                no_answer=common.NO_ANSWER_DEST,
                timeout=common.TRANSFER_TIMEOUT,
                enabled=True,
            )
    finally:
        await repo.close()


def webhook(kind: str, url: str) -> tuple[subprocess.Popen[bytes], Path] | None:
    """Subscribe a webhook to every call and change (`--webhook`), with its receiver when there is
    one; loopback is allowed to the servers started after this. Returns the receiver and its log."""
    if kind == "none":
        return None
    os.environ["DID_FAILOVER_WEBHOOK_ALLOW"] = "127.0.0.0/8"
    sink = None
    out = RESULTS / "webhook-requests.log"
    out.unlink(missing_ok=True)
    if kind == "down":
        port = _free_port()
    else:
        portfile = RESULTS / "webhook.port"
        portfile.unlink(missing_ok=True)
        delay = "10" if kind == "stuck" else "0"
        cmd = [PYTHON, "-m", "bench.webhook_sink", str(out), str(portfile), "--delay", delay]
        sink = subprocess.Popen(cmd, cwd=ROOT)
        while not portfile.exists() or not portfile.read_text():
            time.sleep(0.05)
        port = int(portfile.read_text())
    asyncio.run(_subscribe(url, f"http://127.0.0.1:{port}/hook"))
    return (sink, out) if sink is not None else (subprocess.Popen(["true"]), out)


async def _subscribe(url: str, target: str) -> None:
    import ipaddress

    from did_failover.admin.service import ADMIN, Service
    from did_failover.storage import open_repository

    repo = open_repository(url, 5.0)
    try:
        service = Service(repo, webhook_allow=[ipaddress.ip_network("127.0.0.0/8")])
        await service.add_webhook(ADMIN, target, "call.ended,change.made")
    finally:
        await repo.close()


# -- processes --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_server(name: str, port: int, db_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """Start one server and wait until it accepts connections."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if name in VARIANTS:
        env.update(VARIANTS[name])
        name = "did-failover"
    if name == "did-failover" and WITHOUT:
        env["PYTHONPATH"] = f"{ROOT / 'bench' / 'ablate'}{os.pathsep}{ROOT}"
        env["DID_FAILOVER_BENCH_WITHOUT"] = ",".join(WITHOUT)
    if name == "did-failover":
        env.update(
            DID_FAILOVER_DATABASE_URL=db_url,
            DID_FAILOVER_LISTEN=f"127.0.0.1:{port}",
            DID_FAILOVER_LOG_FORMAT="json",
            DID_FAILOVER_MAX_SESSIONS="30000",
            DID_FAILOVER_METRICS_LISTEN=f"127.0.0.1:{_free_port()}",
        )
        cmd = [str(Path(PYTHON).with_name("did-failover")), "serve"]
    else:
        module = {
            "panoramisk": "panoramisk_app",
            "pyst2-threads": "pyst2_threads",
            "bare-asyncio": "bare_asyncio",
            "bare-asyncio-stdlib": "bare_asyncio",
        }[name]
        cmd = [PYTHON, "-m", f"bench.peers.{module}", "--port", str(port)]
        if name == "bare-asyncio-stdlib":
            cmd.append("--stdlib-loop")
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at start-up, see {log_path}")
        if _listening(port):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{name} did not listen within 20 s")


def _listening(port: int) -> bool:
    """True once something listens on 127.0.0.1:port; read from /proc/net/tcp, so no probe connection
    (panoramisk's fast_agi spins forever on a connection closed before its environment block)."""
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":
            return True
    return False


def stop(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL when it does not go."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> tuple[float, float]:
    """utime and stime of the whole process (every thread), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def status_kb(pid: int, key: str) -> int:
    """A field of /proc/PID/status (VmRSS, VmHWM, Threads)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Workers:
    """The load generator's worker processes, driven line by line over their stdin/stdout."""

    def __init__(self, count: int, port: int, sc: Scenario, seed: int, timeout: float) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.buffers: dict[int, bytes] = {}
        for i in range(count):

            def share(total: int, i: int = i) -> int:
                return total // count + (1 if i < total % count else 0)

            cmd = [
                PYTHON,
                "-m",
                "bench.loadgen",
                "--port",
                str(port),
                "--held",
                str(share(sc.held)),
                "--calls",
                str(share(sc.calls)),
                "--rate",
                str(sc.rate / count),
                "--concurrency",
                str(sc.concurrency),
                "--hangup-pct",
                str(sc.hangup_pct),
                "--seed",
                str(seed * 100 + i),
                "--timeout",
                str(timeout),
            ]
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                bufsize=0,
            )
            self.procs.append(proc)
            self.buffers[proc.stdout.fileno()] = b""  # type: ignore[union-attr]

    def expect(self, word: str, timeout: float) -> list[str]:
        """Wait for one line from each worker; return them."""
        lines: dict[int, str] = {}
        deadline = time.monotonic() + timeout
        fds = {p.stdout.fileno(): p for p in self.procs}  # type: ignore[union-attr]
        while len(lines) < len(self.procs):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"workers did not say {word!r} in {timeout:.0f} s")
            ready, _, _ = select.select([fd for fd in fds if fd not in lines], [], [], left)
            for fd in ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"a worker exited before {word!r}")
                self.buffers[fd] += chunk
                if b"\n" in self.buffers[fd]:
                    line, _, rest = self.buffers[fd].partition(b"\n")
                    self.buffers[fd] = rest
                    lines[fd] = line.decode()
        return [lines[p.stdout.fileno()] for p in self.procs]  # type: ignore[union-attr]

    def send(self, word: str) -> None:
        """Tell every worker to move to the next phase."""
        for p in self.procs:
            p.stdin.write(word.encode() + b"\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]

    def kill(self) -> None:
        """Stop whatever is still running."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


# -- one scenario -----------------------------------------------------------------------------------


def _percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1e6


def run_scenario(name: str, sc: Scenario, db_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Fresh server, warm-up, then the scenario's phases; returns the figures."""
    port = _free_port()
    log_path = RESULTS / f"{name}-{sc.name}.log"
    server = start_server(name, port, db_url, log_path)
    profiler: subprocess.Popen[bytes] | None = None
    out: dict[str, Any] = {"server": name, "scenario": sc.name}
    try:
        warm = Workers(1, port, Scenario("warm-up", calls=args.warmup, concurrency=20), 9, args.phase_timeout)
        try:
            warm.expect("parked", 30)
            warm.send("go")
            warm.expect("ran", args.phase_timeout + 10)
            warm.send("release")
            warm_result = json.loads(warm.expect("result", 30)[0])
        finally:
            warm.kill()
        warm_errors = sum(warm_result["errors"].values())
        rss_base = status_kb(server.pid, "VmRSS")
        workers = Workers(args.workers, port, sc, 1, args.phase_timeout)
        try:
            parked = sum(int(line.split()[1]) for line in workers.expect("parked", args.phase_timeout + 10))
            rss_held = status_kb(server.pid, "VmRSS")
            threads_held = status_kb(server.pid, "Threads")
            if args.profile and name in ("did-failover", *VARIANTS) and sc.calls:
                prof_path = RESULTS / f"profile-{name}-{sc.name}.txt"
                profiler = subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "--pid",
                        str(server.pid),
                        "--format",
                        "raw",
                        "--rate",
                        "250",
                        "--nonblocking",
                        "--gil",
                        "-o",
                        str(prof_path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    executable=str(Path(PYTHON).with_name("py-spy")),
                )
                time.sleep(0.5)
            (user0, sys0), t0 = cpu_seconds(server.pid), time.perf_counter()
            workers.send("go")
            workers.expect("ran", args.phase_timeout + 10)
            (user1, sys1), t1 = cpu_seconds(server.pid), time.perf_counter()
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            workers.send("release")
            # Released sessions get RELEASE_TIMEOUT to finish; a worker still silent well after that
            # is stuck behind the server (the thread-per-call peer at 10,000 held), not busy.
            results = [json.loads(line) for line in workers.expect("result", RELEASE_TIMEOUT + 25)]
        finally:
            workers.kill()
        rss_peak = status_kb(server.pid, "VmHWM")
    finally:
        if profiler is not None and profiler.poll() is None:
            profiler.kill()
        stop(server)
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    missing_held = sc.held - parked
    if missing_held > 0:
        errors["not_parked"] = errors.get("not_parked", 0) + missing_held
    if warm_errors:
        errors["warm-up"] = warm_errors
    calls_ok = sum(r["ok"] for r in results) - (parked - sum(r["parked"] for r in results))
    run_ok = sum(len(r["delays_ns"]) for r in results)
    delays = sorted(d for r in results for d in r["delays_ns"])
    held_delays = sorted(d for r in results for d in r["held_delays_ns"])
    wall = max((r["wall_s"] for r in results), default=0.0) or (t1 - t0)
    gen_cpu = sum(r["cpu_s"] for r in results)
    cpu0, cpu1 = user0 + sys0, user1 + sys1
    out.update(
        calls=run_ok,
        calls_ok_total=calls_ok,
        calls_per_s=run_ok / wall if run_ok else 0.0,
        server_cpu_us_per_call=(cpu1 - cpu0) / run_ok * 1e6 if run_ok else None,
        server_cpu_s=cpu1 - cpu0,
        server_user_us_per_call=(user1 - user0) / run_ok * 1e6 if run_ok else None,
        server_sys_us_per_call=(sys1 - sys0) / run_ok * 1e6 if run_ok else None,
        server_cpu_share=(cpu1 - cpu0) / (t1 - t0) if t1 > t0 else 0.0,
        generator_cpu_us_per_call=gen_cpu / run_ok * 1e6 if run_ok else None,
        delay_ms={
            "p50": _percentile(delays, 0.5),
            "p99": _percentile(delays, 0.99),
            "p99.9": _percentile(delays, 0.999),
        },
        held=parked,
        held_delay_ms={
            "p50": _percentile(held_delays, 0.5),
            "p99": _percentile(held_delays, 0.99),
            "p99.9": _percentile(held_delays, 0.999),
        },
        rss_base_kb=rss_base,
        rss_held_kb=rss_held,
        rss_peak_kb=rss_peak,
        rss_per_held_kb=(rss_held - rss_base) / parked if parked else None,
        threads_held=threads_held,
        errors=errors,
        error_count=sum(errors.values()),
    )
    if name in ("did-failover", *VARIANTS) and "log" not in WITHOUT:
        expected = args.warmup + sc.calls + sc.held
        lines = sum(
            1
            for line in log_path.read_bytes().splitlines()
            if b'"event": "session"' in line and b'"script": "did-failover"' in line
        )
        out["canonical_log_lines"] = lines
        if lines != expected:
            out["errors"]["canonical_log_lines_missing"] = expected - lines
            out["error_count"] += abs(expected - lines)
    return out


# -- report ---------------------------------------------------------------------------------------


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)


def _sort_key(result: dict[str, Any]) -> float:
    held = result["scenario"] == "held"
    value = result.get("rss_per_held_kb" if held else "server_cpu_us_per_call")
    return float(value) if value is not None else float("inf")


def median_runs(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scenario and server, the run with the median CPU per call (KB per held call for `held`)."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        runs.setdefault((r["scenario"], r["server"]), []).append(r)
    return [sorted(group, key=_sort_key)[(len(group) - 1) // 2] for group in runs.values()]


def spread(results: list[dict[str, Any]]) -> str:
    """Every run's CPU per call and p99, for the reader to see the noise."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        runs.setdefault((r["scenario"], r["server"]), []).append(r)
    lines = ["\nruns (CPU us/call; p99 ms):"]
    for (scenario, server), group in runs.items():
        cpu = " ".join(_fmt(r.get("server_cpu_us_per_call"), ".0f") for r in group)
        p99 = " ".join(_fmt((r.get("delay_ms") or {}).get("p99"), ".2f") for r in group)
        lines.append(f"  {scenario:<6} {server:<20} {cpu:<24} {p99}")
    return "\n".join(lines)


def table(results: list[dict[str, Any]]) -> str:
    """One block per scenario, one row per server, ratios against did-failover."""
    lines = []
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        rows = [r for r in results if r["scenario"] == scenario]
        ours = next((r for r in rows if r["server"] == "did-failover"), None)
        lines.append(f"\n== {scenario} ==")
        lines.append(
            f"{'server':<20}{'calls':>7}{'calls/s':>9}{'CPU us/call':>12}{'(user+sys)':>12}{'x ours':>8}"
            f"{'p50 ms':>8}{'p99 ms':>8}{'p99.9 ms':>9}{'held':>7}{'KB/held':>9}{'x ours':>8}"
            f"{'errors':>8}{'gen us/call':>12}"
        )
        for r in rows:
            cpu, kb = r.get("server_cpu_us_per_call"), r.get("rss_per_held_kb")
            cpu_ratio = (
                cpu / ours["server_cpu_us_per_call"]
                if ours and cpu and ours.get("server_cpu_us_per_call")
                else None
            )
            kb_ratio = kb / ours["rss_per_held_kb"] if ours and kb and ours.get("rss_per_held_kb") else None
            d = r["held_delay_ms"] if scenario == "held" else r["delay_ms"]
            split = (
                f"{r['server_user_us_per_call']:.0f}+{r['server_sys_us_per_call']:.0f}"
                if r.get("server_user_us_per_call") is not None
                else "-"
            )
            lines.append(
                f"{r['server']:<20}{r.get('calls', 0):>7}{_fmt(r.get('calls_per_s'), '.0f'):>9}"
                f"{_fmt(cpu, '.1f'):>12}{split:>12}{_fmt(cpu_ratio, '.2f'):>8}"
                f"{_fmt(d['p50'], '.2f'):>8}{_fmt(d['p99'], '.2f'):>8}{_fmt(d['p99.9'], '.2f'):>9}"
                f"{r.get('held', 0):>7}{_fmt(kb, '.2f'):>9}{_fmt(kb_ratio, '.2f'):>8}"
                f"{r.get('error_count', '-'):>8}{_fmt(r.get('generator_cpu_us_per_call'), '.1f'):>12}"
            )
    return "\n".join(lines)


def profile_summary(path: Path, top: int = 15) -> str:
    """Self and inclusive sample shares per function from a py-spy raw (collapsed stacks) file."""
    self_counts: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for f in stack.split(";")
            if f
        ]
        if not frames:
            continue
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for f in set(frames):
            incl[f] = incl.get(f, 0) + count
    out = [f"py-spy samples: {total}", "self %  incl %  function"]
    for f, c in sorted(self_counts.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"{100 * c / total:6.1f}  {100 * incl[f] / total:6.1f}  {f}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run every server through every scenario and report."""
    p = argparse.ArgumentParser(description="did-failover benchmark against its peers")
    p.add_argument("--quick", action="store_true", help="smaller scenarios (about a minute)")
    p.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated subset; also {', '.join(VARIANTS)} (did-failover with change polling off)",
    )
    p.add_argument("--scenarios", default="mix,burst,held", help="comma-separated subset")
    p.add_argument("--workers", type=int, default=2, help="load generator processes")
    p.add_argument("--warmup", type=int, default=500, help="calls before each scenario, not counted")
    p.add_argument("--phase-timeout", type=float, default=90.0)
    p.add_argument("--profile", action="store_true", help="py-spy our server during mix and burst")
    p.add_argument("--output", type=Path, help="JSON file (default bench/results/bench-DATE.json)")
    p.add_argument(
        "--without",
        default="",
        help="comma-separated: history,log,metrics,look_ahead; did-failover runs with that work made a no-op",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each scenario N times, servers interleaved; the table shows each server's median run",
    )
    p.add_argument(
        "--extra-dids", type=int, default=0, help="DIDs added by CSV import first (calls still use the 200)"
    )
    p.add_argument(
        "--webhook",
        choices=["none", "ok", "stuck", "down"],
        default="none",
        help="a webhook for every call and change: to a receiver that answers at once (ok), one that"
        " takes 10 s (stuck, past the 5 s timeout), or to a closed port (down)",
    )
    args = p.parse_args(argv)
    WITHOUT[:] = [piece for piece in args.without.split(",") if piece]
    if set(WITHOUT) - {"history", "log", "metrics", "look_ahead"}:
        p.error(f"--without takes history, log, metrics, look_ahead; not {args.without!r}")
    _raise_nofile()
    RESULTS.mkdir(parents=True, exist_ok=True)
    db_url = setup_database(RESULTS / "bench.db")
    if args.extra_dids:
        from bench.csv_import import import_dids

        seconds = import_dids(db_url, args.extra_dids)
        print(f"{args.extra_dids} more DIDs through CSV import in {seconds:.0f} s", flush=True)
    sink = webhook(args.webhook, db_url)
    wanted = set(args.scenarios.split(","))
    results = []
    started = time.monotonic()
    rounds = [
        (sc, name)
        for sc in scenarios(args.quick)
        if sc.name in wanted
        for _ in range(max(1, args.repeat))
        for name in args.servers.split(",")
    ]
    for sc, name in rounds:
        print(f"-- {name}: {sc.name} ...", file=sys.stderr, flush=True)
        try:
            results.append(run_scenario(name, sc, db_url, args))
        except (RuntimeError, TimeoutError, OSError, ValueError) as exc:
            results.append(
                {
                    "server": name,
                    "scenario": sc.name,
                    "failed": str(exc),
                    "error_count": 1,
                    "delay_ms": {"p50": None, "p99": None, "p99.9": None},
                    "held_delay_ms": {"p50": None, "p99": None, "p99.9": None},
                }
            )
            print(f"   {name} failed: {exc}", file=sys.stderr, flush=True)
    if sink is not None:
        sink[0].kill()
        requests = len(sink[1].read_text().splitlines()) if sink[1].exists() else 0
        print(f"webhook ({args.webhook}): {requests} requests received", file=sys.stderr, flush=True)
    now = datetime.datetime.now(datetime.UTC)
    report = {
        "date": now.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "quick": args.quick,
        "duration_s": round(time.monotonic() - started, 1),
        "results": results,
    }
    output = args.output or RESULTS / f"bench-{now:%Y%m%dT%H%M%S}{'-quick' if args.quick else ''}.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(median_runs(results)))
    if args.repeat > 1:
        print(spread(results))
    if args.profile:
        for prof in sorted(RESULTS.glob("profile-did-failover-*.txt")):
            print(f"\n-- {prof.name}\n{profile_summary(prof)}")
    print(
        f"\n{report['machine']['cpus']} CPUs, {report['machine']['cpu']}, Python "
        f"{report['machine']['python']}; {report['duration_s']} s; JSON: {output}"
    )
    # A peer's errors are findings (the thread-per-call peer at 10,000 held); ours fail the run.
    return 1 if any(r.get("error_count") for r in results if r["server"].startswith("did-failover")) else 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
