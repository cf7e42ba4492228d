"""Creating many DIDs through CSV import, as an operator loading its numbers would: the time it takes.

    .venv/bin/python -m bench.csv_import [--dids 1000000] [--backends sqlite,mariadb]

Seeds the benchmark's database (bench.run's accounts and 200 DIDs), writes a CSV of `--dids` new DIDs
with their transfer settings (spread over the customer account 2001), and times
`did-failover transfer import` on it, end to end (reading, checking every row, writing), then checks
that every DID is there. bench.run and bench.poll_cost take `--extra-dids N` to run on such a database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import common
from bench.run import PYTHON, RESULTS, seed
from bench.scratch import mariadb_database

HEADER = "did,account,primary,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
FIRST = 18880000000
"""The first new DID: apart from bench.run's 1555123xxxx."""


def write_csv(path: Path, dids: int) -> None:
    """`dids` new DIDs of customer 2001, each with a busy and a no-answer forward."""
    with path.open("w") as out:
        out.write(HEADER)
        for i in range(dids):
            forwards = f"{common.BUSY_DEST},{common.NO_ANSWER_DEST}"
            out.write(f"{FIRST + i},{common.ACCOUNT},endpoint:desk-{i},,{forwards},,30,keep,on\n")


def import_dids(url: str, dids: int) -> float:
    """Add `dids` DIDs to the database at `url` through `transfer import`; the seconds it took."""
    path = RESULTS / f"import-{dids}.csv"
    write_csv(path, dids)
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": url}
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(PYTHON).with_name("did-failover")), "transfer", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    path.unlink()
    if done.returncode != 0 or f"created {dids} DIDs" not in done.stdout:
        raise SystemExit(f"import failed ({done.returncode}): {done.stdout}{done.stderr[-2000:]}")
    return seconds


def _count(url: str) -> int:
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": url}
    listed = subprocess.run(
        [str(Path(PYTHON).with_name("did-failover")), "transfer", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.count('"did":')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dids", type=int, default=1_000_000)
    p.add_argument("--backends", default="sqlite,mariadb")
    args = p.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for backend in args.backends.split(","):
        if backend == "sqlite":
            path = RESULTS / "csv-import.db"
            path.unlink(missing_ok=True)
            url = f"sqlite:///{path}"
            seed(url)
            seconds = import_dids(url, args.dids)
            print(f"SQLite:  {args.dids} DIDs made by CSV import in {seconds:.0f} s; {_count(url)} listed")
        else:
            with mariadb_database("didfo_import") as url:
                seed(url)
                seconds = import_dids(url, args.dids)
                print(
                    f"MariaDB: {args.dids} DIDs made by CSV import in {seconds:.0f} s, {_count(url)} listed"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
