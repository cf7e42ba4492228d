"""The SQL both back ends share: written once with `?` placeholders over a tiny executor interface.

The statements live by aggregate, one module each (`_accounts`, `_dids`, `_grid`, `_history`, `_logins`,
`_webhooks`, on `_base`); this one composes them and creates or upgrades the schema.
"""

from __future__ import annotations

from importlib import resources

from did_failover.errors import SchemaMismatch
from did_failover.storage._base import (
    ATTEMPTS,
    RETRIES,
    Executor,
    Retry,
    Row,
    every_operation_retried,
    retried,
)
from did_failover.storage._grid import GridQueries
from did_failover.storage._logins import LoginQueries
from did_failover.storage._webhooks import WebhookQueries
from did_failover.storage.base import SCHEMA_VERSION, schema_problem


def no_schema(where: str) -> SchemaMismatch:
    """The error of a database without the tables (`where`: the repository's `where`)."""
    return SchemaMismatch(f"{where} has no did-failover schema: run 'did-failover db init'")


def read_schema(resource: str) -> list[str]:
    """The statements of a packaged .sql file, comments dropped, split on the closing `;`."""
    text = resources.files("did_failover.storage").joinpath(resource).read_text(encoding="utf-8")
    return split_statements(text)


def split_statements(text: str) -> list[str]:
    """SQL statements of a schema file: each ends with `;` at the end of a line, except that a
    trigger body (SQLite's BEGIN ... END) runs to its `END;` line. `--` comment lines are dropped."""
    statements: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("--") or not (current or line.strip()):
            continue
        current.append(line)
        if not line.rstrip().endswith(";"):
            continue
        trigger = current[0].lstrip().upper().startswith("CREATE TRIGGER")
        if trigger and "BEGIN" in (s.strip() for s in current) and line.strip() != "END;":
            continue
        statements.append("\n".join(current).strip().removesuffix(";").strip())
        current = []
    if any(line.strip() for line in current):
        statements.append("\n".join(current).strip())
    return statements


class SQLRepository(GridQueries, WebhookQueries, LoginQueries):
    """Repository written once over an Executor; the back ends supply connections and dialect."""

    _SCHEMA_RESOURCE: str
    _TABLE_EXISTS: str
    _COLUMN_EXISTS: str
    """A row when table (first argument) has column (second)."""
    _VERSION_3_COLUMNS: tuple[tuple[str, str, str], ...]
    """(table, column, statement that adds it): what turns a version 1 or 2 schema into 3."""
    _VERSION_4_STATEMENTS: tuple[tuple[str, str], ...] = ()
    """(table, statement): column changes (idempotent) that turn a schema older than 4 into 4, where
    the table exists (the schema file creates a missing one as it is in 4)."""
    _VERSION_5_STATEMENTS: tuple[tuple[str, str, str | None], ...] = ()
    """(table, statement, done): what turns a schema older than 5 into 5 where the table exists: the
    duplicate rows of a call folded into its first, then (where the schema file cannot) the unique key,
    unless the query `done` finds it there already."""

    async def schema_version(self) -> int | None:
        """The database's schema version, None when the schema was never created."""
        async with self._read() as db:
            if await db.fetch_one(self._TABLE_EXISTS, ("schema_version",)) is None:
                return None
            row = await db.fetch_one("SELECT version FROM schema_version WHERE id = 1")
        return None if row is None else int(row[0])

    async def init_schema(self) -> int:
        """Create the schema idempotently and return its version; refuse a newer database."""
        version = await self.schema_version()
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaMismatch(schema_problem(version, self.where) or "")
        async with self._write(bulk=True) as db:
            if version is not None and version < 3:
                for table, column, statement in self._VERSION_3_COLUMNS:
                    if await db.fetch_one(self._COLUMN_EXISTS, (table, column)) is None:
                        await db.execute(statement)
            if version is not None and version < 4:
                for table, statement in self._VERSION_4_STATEMENTS:
                    if await db.fetch_one(self._TABLE_EXISTS, (table,)) is not None:
                        await db.execute(statement)
            if version is not None and version < 5:
                for table, statement, done in self._VERSION_5_STATEMENTS:
                    if await db.fetch_one(self._TABLE_EXISTS, (table,)) is None:
                        continue
                    if done is None or await db.fetch_one(done) is None:
                        await db.execute(statement)
            for statement in read_schema(self._SCHEMA_RESOURCE):
                await db.execute(statement)
        return await self.schema_version() or 0

    # Pages of DIDs (the web's "DIDs Call Transfer" grid)

    # Web users and sessions


__all__ = [
    "ATTEMPTS",
    "RETRIES",
    "Executor",
    "Retry",
    "Row",
    "SQLRepository",
    "every_operation_retried",
    "no_schema",
    "read_schema",
    "retried",
    "split_statements",
]
