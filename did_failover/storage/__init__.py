"""Storage: one async Repository interface, SQLite (embedded default) and MySQL/MariaDB back ends."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from did_failover.errors import InputError, SchemaMismatch
from did_failover.numbers import whole_number
from did_failover.storage.base import SCHEMA_VERSION, Repository, acting_as, current_actor, schema_problem
from did_failover.storage.records import (
    LOGIN_TOKEN,
    AccountRow,
    CallRecord,
    ChangeRow,
    DIDRoute,
    DIDRow,
    Role,
    SessionRow,
    TokenRow,
    TransferRow,
    UserRow,
)

__all__ = [
    "LOGIN_TOKEN",
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
    "check_schema",
    "current_actor",
    "open_checked",
    "open_repository",
    "schema_problem",
]


def open_repository(url: str, timeout: float, *, sync_reads: bool = True) -> Repository:
    """The repository for `sqlite:///PATH` or `mysql://USER:PASS@HOST:PORT[,HOST:PORT...]/DB`
    (several hosts: the nodes of a Galera cluster); connects on first use. On a cluster, reads wait
    for what the cluster committed (`wsrep_sync_wait`) unless `sync_reads` is False (`serve`: its
    change watcher reads the change log and the rows it names from the same node, in order)."""
    if url.startswith("sqlite:///"):
        from did_failover.storage.sqlite import SQLiteRepository

        path = url.removeprefix("sqlite:///")
        if not path:
            raise InputError("database_url: sqlite:///PATH needs a file path")
        return SQLiteRepository(path, timeout)
    if url.startswith("mysql://"):
        from did_failover.storage.mysql import MySQLRepository

        parts = urlsplit(url)
        credentials, at, hostlist = parts.netloc.rpartition("@")
        hosts = [_host_port(item) for item in hostlist.split(",")]
        user, _, password = credentials.partition(":") if at else ("", "", "")
        db = unquote(parts.path.removeprefix("/"))
        if not db or "/" in db or parts.query:
            raise InputError("database_url: expected mysql://USER:PASS@HOST:PORT[,HOST:PORT...]/DB")
        return MySQLRepository(
            hosts=hosts,
            user=unquote(user or "root"),
            password=unquote(password),
            db=db,
            timeout=timeout,
            sync_reads=sync_reads,
        )
    raise InputError("database_url: must start with sqlite:/// or mysql://")


async def check_schema(repo: Repository) -> int:
    """The schema version of the database behind `repo` when it is the one this code reads;
    SchemaMismatch saying what to run otherwise (StorageUnavailable when the database does not answer)."""
    version = await repo.schema_version()
    problem = schema_problem(version, repo.where)
    if problem is not None or version is None:
        raise SchemaMismatch(problem or "")
    return version


async def open_checked(url: str, timeout: float) -> Repository:
    """open_repository, connected, with its schema checked (check_schema); closed again on failure."""
    repo = open_repository(url, timeout)
    try:
        await check_schema(repo)
    except BaseException:
        await repo.close()
        raise
    return repo


def _host_port(text: str) -> tuple[str, int]:
    """One HOST[:PORT] or [V6][:PORT] of a mysql:// URL."""
    host, port = text, "3306"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "3306"
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not host:
        raise InputError("database_url: expected mysql://USER:PASS@HOST:PORT[,HOST:PORT...]/DB")
    number = whole_number(port, 5)
    if number is None or not 1 <= number <= 65535:
        raise InputError("database_url: the MySQL port must be a number 1..65535")
    return host, number
