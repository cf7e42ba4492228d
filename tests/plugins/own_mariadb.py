"""A MariaDB server of the suite's own for the tests that kill or freeze the database: its own data
folder, a free loopback port, started once per worker that needs it. The machine's MariaDB, which
every other test shares (and another worker may be using), is never touched."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.support.net import free_port

MARIADBD = Path("/usr/sbin/mariadbd")
READY_SECONDS = 30.0


def install_mariadb(base: Path, port: int, extra: str = "") -> Path:
    """A data folder under `base` with its system tables, and the config (`base/my.cnf`, `extra`
    lines added) of a `mariadbd` on 127.0.0.1:`port`; returns the config's path. Used by the
    suite's own MariaDB and by each Galera node (tests/plugins/galera.py)."""
    data = base / "data"
    data.mkdir(parents=True)
    # A tmpdir of its own: mariadbd deletes every `#sql*` file of its tmpdir when it starts, and in
    # the shared /tmp those are the machine's MariaDB's temporary tables, in use by the other tests
    # ("Error on delete of '/tmp/#sql-temptable-...'", whenever a node started beside them).
    tmp = base / "tmp"
    tmp.mkdir()
    config = base / "my.cnf"
    config.write_text(
        f"""[mysqld]
user=mysql
datadir={data}
socket={base}/mysqld.sock
port={port}
bind-address=127.0.0.1
pid-file={base}/mysqld.pid
tmpdir={tmp}
log-error={base}/error.log
skip-name-resolve
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
{extra}"""
    )
    shutil.chown(base, "mysql", "mysql")
    shutil.chown(data, "mysql", "mysql")
    shutil.chown(tmp, "mysql", "mysql")
    subprocess.run(
        [
            "mariadb-install-db",
            f"--defaults-file={config}",
            "--user=mysql",
            "--auth-root-authentication-method=normal",
        ],
        check=True,
        capture_output=True,
    )
    return config


class OwnMariaDB:
    """One `mariadbd` with a `--defaults-file` of its own, which a test may SIGKILL, SIGSTOP, SIGCONT
    and start again on the same data."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.config = base / "my.cnf"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def install(self) -> None:
        """Write the config and create the system tables."""
        install_mariadb(self.base, self.port)

    def answers(self) -> bool:
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
        except pymysql.err.MySQLError:
            return False
        return True

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(
            [str(MARIADBD), f"--defaults-file={self.config}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.base / "error.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the suite's own MariaDB did not start:\n{log}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL it, as a crash would, and wait until it is gone."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: it keeps its connections and answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(20)
            if self.process.poll() is None:
                self.process.kill()
            self.process = None


@pytest.fixture(scope="session")
def own_mariadb() -> Iterator[OwnMariaDB]:
    """The suite's own MariaDB, started at the first test that asks for it; fails (never skips) when
    it cannot start."""
    if not MARIADBD.exists():
        pytest.fail(f"{MARIADBD} is missing: scripts/test installs mariadb-server", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="did-failover-own-mariadb-"))
    root.chmod(0o755)
    server = OwnMariaDB(root)
    try:
        server.install()
        server.start()
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"the suite's own MariaDB is unavailable: {exc}", pytrace=False)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_mysql_url(own_mariadb: OwnMariaDB) -> Iterator[str]:
    """A new, empty database on the suite's own MariaDB (running again after the test if it killed
    it), dropped afterwards."""
    name = f"didfo_own_{secrets.token_hex(6)}"
    conn = pymysql.connect(host="127.0.0.1", port=own_mariadb.port, user="root", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    conn.close()
    yield own_mariadb.url(name)
    if own_mariadb.process is None:
        own_mariadb.start()
    else:
        own_mariadb.thaw()
    conn = pymysql.connect(host="127.0.0.1", port=own_mariadb.port, user="root", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.close()
