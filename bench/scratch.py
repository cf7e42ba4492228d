"""A scratch MariaDB database for a benchmark run: created empty, dropped afterwards."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import pymysql

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def _run(sql: str) -> None:
    conn = pymysql.connect(**MARIADB, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextlib.contextmanager
def mariadb_database(prefix: str) -> Iterator[str]:
    """The mysql:// URL of a new empty database on the machine's MariaDB, dropped on the way out."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    _run(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        _run(f"DROP DATABASE IF EXISTS {name}")
