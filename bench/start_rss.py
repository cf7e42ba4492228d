"""A `serve` process's memory right after start-up, on a database with many DIDs and on an empty one:
it must not grow with the number of DIDs (they are read when a call asks for one).

    .venv/bin/python -m bench.start_rss sqlite:///bench/results/web-pages.db [--seconds 5]

Starts `did-failover serve` on free ports over each database in turn (an empty SQLite one made here
for the comparison), waits until it listens and `--seconds` more (the change-log watcher has polled),
and prints VmRSS and VmHWM from /proc, and how many DIDs the database holds.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import _free_port

ROOT = Path(__file__).resolve().parents[1]


def _status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def measure(url: str, seconds: float) -> dict[str, int]:
    """VmRSS and VmHWM (KB) of `serve` over `url`, `seconds` after it started listening."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DID_FAILOVER_")}
    env.update(
        DID_FAILOVER_DATABASE_URL=url,
        DID_FAILOVER_LISTEN=f"127.0.0.1:{port}",
        DID_FAILOVER_METRICS_LISTEN=f"127.0.0.1:{_free_port()}",
    )
    command = [str(Path(sys.executable).with_name("did-failover")), "serve"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise SystemExit(f"serve did not listen on {port}")
        time.sleep(seconds)
        return _status(process.pid)
    finally:
        process.terminate()
        process.wait(20)


def _dids(url: str) -> int:
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM dids").fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url", help="a sqlite:/// URL of a database made by bench.web_pages")
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        empty = f"sqlite:///{scratch}/empty.db"
        init = {**os.environ, "DID_FAILOVER_DATABASE_URL": empty}
        subprocess.run(
            [str(Path(sys.executable).with_name("did-failover")), "db", "init"], env=init, check=True
        )
        for url in (empty, args.url):
            figures = measure(url, args.seconds)
            print(
                f"{_dids(url):>9} DIDs: VmRSS {figures['VmRSS']} KB, VmHWM {figures['VmHWM']} KB", flush=True
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
