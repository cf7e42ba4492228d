"""/metrics and /healthz over real HTTP while calls go through the fake Asterisk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from did_failover.admin.service import ADMIN, Service
from did_failover.routing.cache import RouteCache
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.handler import DIDFailover
from did_failover.runtime.metrics import Metrics, MetricsListener
from did_failover.settings import Settings
from did_failover.storage import Repository, open_repository
from fastagi.client import Responder, call, environment
from tests.plugins.servers import StartServer
from tests.support.net import http_get

DID = "15551230000"
CALLER = "15557770000"


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[Repository]:
    """A SQLite database with DID 15551230000 whose BUSY goes to pstn:+15557654321."""
    repo = open_repository(f"sqlite:///{tmp_path}/db.sqlite", 5)
    service = Service(repo)
    await service.init_db()
    await service.add_account(ADMIN, "2001", "Acme Ltd", "customer", None)
    await service.add_did(ADMIN, DID, "2001", "endpoint:acme-desk", 20, 0)
    await service.set_transfer(ADMIN, DID, busy="pstn:+15557654321", enabled=True)
    yield repo
    await repo.close()


def _busy_then_answer() -> Responder:
    dials = 0

    def respond(command: str) -> list[str]:
        nonlocal dials
        if command.startswith("EXEC Dial"):
            dials += 1
        if command.startswith("GET FULL VARIABLE") and "${DIALSTATUS}" in command:
            return ["200 result=1 (BUSY,17)" if dials == 1 else "200 result=1 (ANSWER,16)"]
        if command.startswith("GET FULL VARIABLE"):
            return ["200 result=1 (,)"]
        return ["200 result=0" if command.startswith("EXEC") else "200 result=1"]

    return respond


def _value(exposition: str, series: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _start(start_server: StartServer, repository: Repository) -> tuple[Metrics, MetricsListener, int]:
    cache = RouteCache(repository, 10, 1)
    handler = DIDFailover(cache, DialTemplates(Settings()), 5)
    server = await start_server({"did-failover": handler})
    metrics = Metrics(server, handler, version="test", event_loop="uvloop")
    listener = MetricsListener(metrics, "127.0.0.1:0")
    await listener.start()
    return metrics, listener, server.port


async def test_metrics_move_with_a_call_and_never_name_a_did(
    start_server: StartServer, repository: Repository
) -> None:
    """A busy call that fails over shows up in sessions, results, setup latency and cache counters."""
    _, listener, port = await _start(start_server, repository)
    try:
        status, before = await http_get(listener.port, "/metrics")
        assert status == 200
        assert _value(before, 'did_failover_results_total{leg="BUSY",result="ANSWERED"}') == 0

        env = environment("did-failover", args=[DID], callerid=CALLER)
        result = await call("127.0.0.1", port, env, _busy_then_answer())
        assert any("DID_FAILOVER_RESULT=ANSWERED" in c for c in result.commands), result.commands
        await call("127.0.0.1", port, environment("health"), _busy_then_answer())

        _, after = await http_get(listener.port, "/metrics")
        assert _value(after, 'did_failover_results_total{leg="BUSY",result="ANSWERED"}') == 1
        assert _value(after, 'did_failover_sessions_total{outcome="answered",script="did-failover"}') == 1
        assert _value(after, 'did_failover_sessions_total{outcome="healthy",script="health"}') == 1
        assert _value(after, "did_failover_session_setup_seconds_count") == 1
        assert _value(after, 'did_failover_cache_lookups_total{source="miss"}') == 1
        assert _value(after, "did_failover_database_up") == 1
        assert _value(after, "did_failover_active_sessions") == 0
        assert 'did_failover_build_info{event_loop="uvloop"' in after
        assert DID not in after and CALLER not in after and "15557654321" not in after
    finally:
        await listener.close()


async def test_unknown_scripts_share_one_label(start_server: StartServer, repository: Repository) -> None:
    """A peer asking for made-up scripts cannot create label values."""
    _, listener, port = await _start(start_server, repository)
    try:
        for script in ("made-up-1", "made-up-2"):
            await call("127.0.0.1", port, environment(script), _busy_then_answer())
        _, text = await http_get(listener.port, "/metrics")
        assert "made-up" not in text
        assert _value(text, 'did_failover_sessions_total{outcome="unknown_script",script="unknown"}') == 2
    finally:
        await listener.close()


async def test_healthz_is_200_with_the_database_up_and_a_json_body(
    start_server: StartServer, repository: Repository
) -> None:
    """Listener accepting and database answering: 200 and a body saying so."""
    _, listener, _ = await _start(start_server, repository)
    try:
        status, body = await http_get(listener.port, "/healthz")
        assert status == 200
        assert '"listener": "accepting"' in body and '"database": "ok"' in body and '"status": "ok"' in body
        assert (await http_get(listener.port, "/nothing"))[0] == 404
    finally:
        await listener.close()


async def test_healthz_is_503_with_the_database_down_and_nothing_cached(
    start_server: StartServer, tmp_path: Path
) -> None:
    """No database and an empty cache: calls would fail, so /healthz says 503 and why."""
    broken = open_repository(f"sqlite:///{tmp_path}/missing/db.sqlite", 1)
    _, listener, _ = await _start(start_server, broken)
    try:
        status, body = await http_get(listener.port, "/healthz")
        assert status == 503
        assert '"database": "down"' in body and '"cached_dids": 0' in body
    finally:
        await listener.close()
        await broken.close()


async def test_healthz_stays_200_on_a_warm_cache_when_the_database_goes(
    start_server: StartServer, tmp_path: Path
) -> None:
    """DIDs seen before still route from the cache, so the server is still worth sending calls to."""
    url = f"sqlite:///{tmp_path}/db.sqlite"
    repo = open_repository(url, 5)
    service = Service(repo)
    await service.init_db()
    metrics, listener, port = await _start(start_server, repo)
    try:
        await call("127.0.0.1", port, environment("did-failover", args=[DID]), _busy_then_answer())
        (tmp_path / "db.sqlite").rename(tmp_path / "gone.sqlite")
        await repo.close()
        (tmp_path / "db.sqlite").mkdir()  # the database file is now unusable
        assert metrics.cache is not None
        metrics.cache.last_database_ok = 0.0  # forget the last success so /healthz asks again
        status, body = await http_get(listener.port, "/healthz")
        assert status == 200
        assert '"database": "down"' in body and '"cached_dids": 1' in body
    finally:
        await listener.close()
        await repo.close()
