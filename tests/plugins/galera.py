"""A three-node MariaDB Galera cluster on loopback (Debian's galera-4), one per test session.

Each node is a `mariadbd` of its own with its own data directory under a temporary folder and ports
checked free (SQL, group communication, IST, SST by rsync); the machine's own MariaDB on 3306 is left
alone. The first node bootstraps the cluster, the others join it by state transfer. Tests kill a
node (`kill`) and start it again (`start`): it rejoins and catches up.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest

from tests.plugins.own_mariadb import install_mariadb
from tests.support.net import free_port

PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
MARIADBD = Path("/usr/sbin/mariadbd")
NODES = 3
READY_SECONDS = 90.0


@dataclass
class Node:
    """One node: its folder, its ports and, while it runs, its process."""

    name: str
    base: Path
    port: int
    group_port: int
    ist_port: int
    sst_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.base / "my.cnf"


@dataclass
class Galera:
    """The running cluster: its nodes, in the order of the URLs it gives."""

    nodes: list[Node] = field(default_factory=list)

    def url(self, db: str, order: list[int] | None = None) -> str:
        """`mysql://root@127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/DB` (nodes in `order`, default 0 1 2)."""
        chosen = [self.nodes[i] for i in (order if order is not None else range(NODES))]
        return f"mysql://root@{','.join(f'127.0.0.1:{n.port}' for n in chosen)}/{db}"

    def query(self, node: int, sql: str, db: str | None = None) -> list[tuple[object, ...]]:
        """Run one statement on one node (autocommit) and return its rows."""
        conn = pymysql.connect(host="127.0.0.1", port=self.nodes[node].port, user="root", database=db)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                rows = list(cursor.fetchall())
            conn.commit()
            return rows
        finally:
            conn.close()

    def synced(self, node: int) -> bool:
        """True when the node answers and is Synced in a cluster of every node."""
        try:
            status = dict(
                self.query(
                    node, "SHOW STATUS WHERE Variable_name IN ('wsrep_local_state', 'wsrep_cluster_size')"
                )
            )
        except pymysql.err.MySQLError:
            return False
        return status.get("wsrep_local_state") == "4" and status.get("wsrep_cluster_size") == str(
            sum(n.process is not None for n in self.nodes)
        )

    def start(self, node: int, bootstrap: bool = False) -> None:
        """Start a node (the first one of a new cluster with `bootstrap`) and wait until it is synced."""
        n = self.nodes[node]
        args = [str(MARIADBD), f"--defaults-file={n.config}"]
        if bootstrap:
            args.append("--wsrep-new-cluster")
        n.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_SECONDS
        while not self.synced(node):
            if n.process.poll() is not None or time.monotonic() > deadline:
                log = (n.base / "error.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"Galera node {n.name} did not become synced:\n{log}")
            time.sleep(0.3)

    def kill(self, node: int) -> None:
        """SIGKILL a node, as a crash would."""
        n = self.nodes[node]
        if n.process is not None:
            n.process.send_signal(signal.SIGKILL)
            n.process.wait(10)
            n.process = None

    def stop(self) -> None:
        for n in self.nodes:
            if n.process is not None:
                n.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    n.process.wait(20)
                if n.process.poll() is None:
                    n.process.kill()
                n.process = None


def _configure(node: Node, peers: list[Node]) -> None:
    members = ",".join(f"127.0.0.1:{p.group_port}" for p in peers)
    install_mariadb(
        node.base,
        node.port,
        f"""binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_cluster_name=did-failover-test
wsrep_cluster_address=gcomm://{members}
wsrep_node_name={node.name}
wsrep_node_address=127.0.0.1:{node.group_port}
wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:{node.group_port};ist.recv_addr=127.0.0.1:{node.ist_port};gcache.size=32M
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:{node.sst_port}
""",
    )


@pytest.fixture(scope="package")
def galera() -> Iterator[Galera]:
    """The cluster for the tests of one package (tests/reliability holds them all): stopped when they
    are done, so that its three nodes take nothing from the rest of the suite. Fails (never skips)
    when galera-4 or MariaDB is missing."""
    for needed in (PROVIDER, MARIADBD):
        if not needed.exists():
            pytest.fail(
                f"{needed} is missing: scripts/test installs galera-4 and mariadb-server", pytrace=False
            )
    root = Path(tempfile.mkdtemp(prefix="did-failover-galera-"))
    os.chmod(root, 0o755)
    cluster = Galera()
    taken: set[int] = set()

    def port() -> int:
        while (chosen := free_port()) in taken:
            pass
        taken.add(chosen)
        return chosen

    cluster.nodes = [
        Node(f"node{i + 1}", root / f"node{i + 1}", port(), port(), port(), port()) for i in range(NODES)
    ]
    try:
        for node in cluster.nodes:
            _configure(node, cluster.nodes)
        cluster.start(0, bootstrap=True)
        for i in range(1, NODES):
            cluster.start(i)
    except Exception as exc:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"Galera test bed unavailable: {exc}", pytrace=False)
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture
def cluster_db(galera: Galera) -> str:
    """A database of this test's own on the cluster (created on one node, replicated to all)."""
    name = f"dftest_galera_{next(_databases)}"
    galera.query(0, f"DROP DATABASE IF EXISTS {name}")
    galera.query(0, f"CREATE DATABASE {name}")
    return name
