"""What watching the change log costs an idle server: CPU per poll, on SQLite and on MariaDB.

    .venv/bin/python -m bench.poll_cost [--seconds 30] [--rounds 3] [--changes 100000] [--extra-dids 1000000]

Starts `did-failover serve` with DID_FAILOVER_CHANGE_POLL=1 and =0 in turn (interleaved rounds)
on the benchmark's database with `--changes` extra change-log rows, takes no calls, and reads the
process's CPU time (utime+stime from /proc) over `--seconds`. The difference, per poll, is what
watching costs whatever the call rate. The mix scenario of bench.run gives the per-call side:
`--servers did-failover,did-failover-nopoll --scenarios mix --repeat 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import common
from bench.run import PYTHON, RESULTS, _free_port, _listening, seed, setup_database
from bench.scratch import mariadb_database


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid`, in ns resolution (schedstat; /proc/PID/stat counts 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def _mariadbd() -> int | None:
    found = subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


def _fill_change_log(url: str, rows: int) -> None:
    """`rows` more change-log rows (the poll's query must not care how long the log is)."""
    from did_failover.storage import acting_as, open_repository

    async def fill() -> None:
        async with open_repository(url, 30.0) as repo:
            with acting_as("bench"):
                for i in range(rows // 2):
                    await repo.update_did(common.did(0), ring_timeout=20 + i % 2)

    if rows:
        asyncio.run(fill())


def measure(url: str, poll: str, seconds: float) -> tuple[float, float]:
    """CPU seconds an idle `serve`, and MariaDB, spend over `seconds` with DID_FAILOVER_CHANGE_POLL=`poll`."""
    port = _free_port()
    env = {
        **os.environ,
        "DID_FAILOVER_DATABASE_URL": url,
        "DID_FAILOVER_LISTEN": f"127.0.0.1:{port}",
        "DID_FAILOVER_METRICS_LISTEN": "",
        "DID_FAILOVER_LOG_FORMAT": "json",
        "DID_FAILOVER_CHANGE_POLL": poll,
    }
    proc = subprocess.Popen(
        [str(Path(PYTHON).with_name("did-failover")), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("serve did not start")
            time.sleep(0.05)
        time.sleep(2.0)  # start-up work (retention, first poll) is not what is measured
        database = _mariadbd() if url.startswith("mysql") else None
        before = _cpu_seconds(proc.pid), _cpu_seconds(database) if database else 0.0
        time.sleep(seconds)
        after = _cpu_seconds(proc.pid), _cpu_seconds(database) if database else 0.0
        return after[0] - before[0], after[1] - before[1]
    finally:
        proc.terminate()
        proc.wait(20)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--changes", type=int, default=100_000, help="change-log rows added first")
    p.add_argument("--extra-dids", type=int, default=0, help="DIDs added by CSV import first")
    args = p.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    sqlite_url = setup_database(RESULTS / "poll-cost.db")
    with mariadb_database("didfo_bench") as mysql_url:
        seed(mysql_url)
        for url in (sqlite_url, mysql_url):
            _fill_change_log(url, args.changes)
            if args.extra_dids:
                from bench.csv_import import import_dids

                seconds = import_dids(url, args.extra_dids)
                print(f"{args.extra_dids} more DIDs through CSV import in {seconds:.0f} s", flush=True)
        for label, url in (("SQLite", sqlite_url), ("MariaDB", mysql_url)):
            on: list[tuple[float, float]] = []
            off: list[tuple[float, float]] = []
            for _ in range(args.rounds):
                on.append(measure(url, "1", args.seconds))
                off.append(measure(url, "0", args.seconds))
            for what, index in (("serve", 0), ("mariadbd", 1)):
                if what == "mariadbd" and label == "SQLite":
                    continue
                runs_on = " ".join(f"{v[index] * 1000:.1f}" for v in on)
                runs_off = " ".join(f"{v[index] * 1000:.1f}" for v in off)
                median_on = statistics.median(v[index] for v in on)
                median_off = statistics.median(v[index] for v in off)
                per_poll = (median_on - median_off) / args.seconds
                print(
                    f"{label:<8} {what:<8} CPU ms over {args.seconds:g} s idle: polling on {runs_on};"
                    f" off {runs_off}; {per_poll * 1e6:.0f} us per poll"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
