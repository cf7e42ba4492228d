"""Storage: one async Repository interface, SQLite (embedded default) and MySQL/MariaDB back ends."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from did_failover.errors import InputError
from did_failover.storage.base import (
    SCHEMA_VERSION,
    AccountRow,
    CallRecord,
    ChangeRow,
    DIDRoute,
    DIDRow,
    Repository,
    Role,
    SessionRow,
    TokenRow,
    TransferRow,
    UserRow,
    acting_as,
    current_actor,
    schema_problem,
)

__all__ = [
    "SCHEMA_VERSION",
    "AccountRow",
    "CallRecord",
    "ChangeRow",
    "DIDRoute",
    "DIDRow",
    "Repository",
    "Role",
    "SessionRow",
    "TokenRow",
    "TransferRow",
    "UserRow",
    "acting_as",
    "current_actor",
    "open_repository",
    "schema_problem",
]


def open_repository(url: str, timeout: float) -> Repository:
    """The repository for `sqlite:///PATH` or `mysql://USER:PASS@HOST:PORT/DB`; connects on first use."""
    if url.startswith("sqlite:///"):
        from did_failover.storage.sqlite import SQLiteRepository

        path = url.removeprefix("sqlite:///")
        if not path:
            raise InputError("database_url: sqlite:///PATH needs a file path")
        return SQLiteRepository(path, timeout)
    if url.startswith("mysql://"):
        from did_failover.storage.mysql import MySQLRepository

        parts = urlsplit(url)
        try:
            port = parts.port or 3306
        except ValueError:
            raise InputError("database_url: the MySQL port must be a number 1..65535") from None
        db = unquote(parts.path.removeprefix("/"))
        if not parts.hostname or not db or "/" in db or parts.query:
            raise InputError("database_url: expected mysql://USER:PASS@HOST:PORT/DB")
        return MySQLRepository(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            db=db,
            timeout=timeout,
        )
    raise InputError("database_url: must start with sqlite:/// or mysql://")
