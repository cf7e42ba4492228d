"""Databases: a fresh SQLite file and a fresh MariaDB database per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from tests.support.db import MARIADB


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """The URL of an empty SQLite database file in the test's tmp_path."""
    return f"sqlite:///{tmp_path}/did-failover.db"


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """The URL of a new, empty database on the real MariaDB at 127.0.0.1:3306, dropped afterwards.

    Fails (never skips) when MariaDB is not running.
    """
    name = f"didfo_test_{secrets.token_hex(6)}"
    try:
        admin = pymysql.connect(**MARIADB, autocommit=True)
    except pymysql.err.MySQLError as exc:
        pytest.fail(f"MariaDB at 127.0.0.1:3306 unavailable: {exc}", pytrace=False)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        admin.close()
        admin = pymysql.connect(**MARIADB, autocommit=True)  # a test may have restarted MariaDB
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def repo_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each back end in turn: SQLite, then the real MariaDB."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
