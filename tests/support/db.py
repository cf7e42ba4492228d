"""Direct database access for tests: dump every table, run raw SQL, behind the repository's back;
and `add_did`, a DID with its transfer settings through the repository."""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql

from did_failover.storage import Repository, TransferRow

TABLES = (
    "accounts",
    "dids",
    "did_grid",
    "account_dids",
    "did_suffixes",
    "suffix_positions",
    "did_transfers",
    "call_log",
    "change_log",
    "users",
    "web_sessions",
    "web_secrets",
    "api_tokens",
    "login_failures",
    "webhooks",
    "webhook_events",
    "webhook_sequencer",
    "schema_version",
)
SQLITE_ONLY = ("change_actor",)
"""SQLite's stand-in for MySQL's session variable @did_failover_actor (always empty when committed)."""
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def mysql_connect(url: str) -> pymysql.connections.Connection[Any]:
    """A plain pymysql connection to the database a mysql:// URL names."""
    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")),
        autocommit=True,
    )


def execute(url: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement (placeholders `?` for both back ends) and return its rows."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    conn = mysql_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), args or None)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every did-failover table, in a stable order, to compare before and after (one
    connection for all of them)."""
    queries = {table: f"SELECT * FROM {table} ORDER BY 1" for table in TABLES}
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as lite:
            return {table: [tuple(r) for r in lite.execute(sql).fetchall()] for table, sql in queries.items()}
    conn = mysql_connect(url)
    try:
        with conn.cursor() as cur:
            rows = {}
            for table, sql in queries.items():
                cur.execute(sql)
                rows[table] = [tuple(r) for r in cur.fetchall()]
            return rows
    finally:
        conn.close()


async def add_did(
    repo: Repository,
    did: str,
    primary: str,
    *,
    account: str,
    ring_timeout: int = 2,
    max_channels: int = 0,
    transfer: bool = True,
    **settings: Any,
) -> None:
    """A DID with transfer settings (transfer timeout 2 s, caller ID kept unless `caller_id=`): the
    forward lists, `after_hours` and `schedule` given in `settings`, the others unset."""
    await repo.add_did(did, account, primary, ring_timeout, max_channels)
    await repo.set_transfer(
        TransferRow(
            did=did,
            enabled=transfer,
            always=settings.get("always"),
            busy=settings.get("busy"),
            no_answer=settings.get("no_answer"),
            unavailable=settings.get("unavailable"),
            transfer_timeout=2,
            caller_id=settings.get("caller_id", "keep"),
            updated_by="test",
            after_hours=settings.get("after_hours"),
            schedule=settings.get("schedule"),
        )
    )
