"""The SQLite and MySQL schemas describe the same tables and columns, and schema.sql is the packaged one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from did_failover.storage import SCHEMA_VERSION, open_repository
from tests.support.db import SQLITE_ONLY, TABLES, execute

ROOT = Path(__file__).resolve().parents[2]


def _sqlite_columns(url: str) -> dict[str, list[str]]:
    tables = [row[0] for row in execute(url, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        table: [row[1] for row in execute(url, f"PRAGMA table_info({table})")]
        for table in tables
        if not table.startswith("sqlite_") and table not in SQLITE_ONLY
    }


def _mysql_columns(url: str) -> dict[str, list[str]]:
    rows = execute(
        url,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position",
    )
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def test_top_level_schema_sql_is_the_packaged_mysql_schema() -> None:
    """schema.sql (run by hand by sysadmins) is byte for byte what `db init` runs on MySQL."""
    packaged = ROOT / "did_failover" / "storage" / "schema_mysql.sql"
    assert (ROOT / "schema.sql").read_bytes() == packaged.read_bytes()


async def test_sqlite_and_mysql_schemas_have_the_same_tables_and_columns(
    sqlite_url: str, mysql_url: str
) -> None:
    """After `init_schema` on both back ends, every table has the same columns in the same order."""
    for url in (sqlite_url, mysql_url):
        async with open_repository(url, 5.0) as repo:
            await repo.init_schema()
    sqlite_columns = _sqlite_columns(sqlite_url)
    assert sorted(sqlite_columns) == sorted(TABLES)
    assert _mysql_columns(mysql_url) == sqlite_columns


def test_schema_sql_run_twice_by_hand_with_the_mysql_client(mysql_url: str) -> None:
    """A sysadmin can feed schema.sql to the mysql client, twice, without error."""
    database = mysql_url.rsplit("/", 1)[1]
    for _ in range(2):
        subprocess.run(
            ["mysql", "-h127.0.0.1", "-P3306", "-uroot", database],
            stdin=(ROOT / "schema.sql").open("rb"),
            check=True,
            capture_output=True,
        )
    assert sorted(_mysql_columns(mysql_url)) == sorted(TABLES)
    assert execute(mysql_url, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
