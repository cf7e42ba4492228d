"""Prometheus metrics and `/healthz` over a tiny HTTP listener on the server's own event loop.

No label ever holds a DID or a caller number: labels are the route name, the session outcome, the
DID_FAILOVER_RESULT and the leg, all from small fixed sets.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import itertools
import json
import platform
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from did_failover.calls.history import HistoryWriter
from did_failover.logs import get_logger
from did_failover.routing.cache import RouteCache
from did_failover.routing.handler import DIDFailover
from did_failover.routing.watch import ChangeWatcher
from did_failover.settings import METRICS_PORT, parse_hostport
from did_failover.webhooks.delivery import WebhookDelivery
from fastagi.server import Server, SessionEnd
from fastagi.session import AGISession

log = get_logger("did_failover.runtime.metrics")

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series are noise

SETUP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
DATABASE_FRESH = 10.0
"""Seconds after a successful query during which /healthz does not ask the database again."""

_REQUEST_TIMEOUT = 5.0
_MAX_HEADER_LINES = 100


class Metrics:
    """The server's metrics in their own registry (one per server, so tests can run several)."""

    def __init__(
        self,
        server: Server,
        handler: DIDFailover | None,
        history: HistoryWriter | None = None,
        *,
        version: str,
        event_loop: str,
        ami_connected: Callable[[], bool] | None = None,
        watcher: ChangeWatcher | None = None,
        webhooks: WebhookDelivery | None = None,
    ) -> None:
        self.server = server
        self.handler = handler
        cache = self.cache = handler.cache if handler is not None else None
        self.registry = CollectorRegistry(auto_describe=True)
        # Counted per call in plain dicts and turned into metrics at scrape time: a prometheus_client
        # child takes a lock per update, which costs more than everything else here put together.
        self.sessions: collections.Counter[tuple[str, str]] = collections.Counter()
        """Sessions ended, by (script, outcome)."""
        self.setup_buckets = [0] * (len(SETUP_BUCKETS) + 1)
        """Session setup times per bucket (not cumulative); the last one is over the largest bound."""
        self.setup_sum = 0.0
        self.reloads = Counter(
            "did_failover_reloads",
            "Settings reloads (SIGHUP), by status: applied or refused.",
            ["status"],
            registry=self.registry,
        )
        active = Gauge("did_failover_active_sessions", "FastAGI sessions open now.", registry=self.registry)
        active.set_function(lambda: len(server.sessions))
        self.ami = Gauge(
            "did_failover_ami_connected",
            "1 while logged into the Asterisk Manager Interface, 0 otherwise (0 when AMI is not set up).",
            registry=self.registry,
        )
        if ami_connected is not None:
            self.ami.set_function(lambda: float(ami_connected()))
        Info("did_failover_build", "Version and runtime.", registry=self.registry).info(
            {"version": version, "python": platform.python_version(), "event_loop": event_loop}
        )
        self.registry.register(_LiveCollector(server, cache, history, watcher, webhooks))
        self.registry.register(_CallCollector(self))
        for reload_status in ("applied", "refused"):
            self.reloads.labels(reload_status)
        server.observers.append(self.observe)

    def observe(self, session: AGISession, end: SessionEnd) -> None:
        """Count one finished session (a server observer, called as the session ends)."""
        request = session.request
        script = request.script if request is not None else ""
        if script not in self.server.routes:
            script = "unknown"  # a peer may send any path: never let it create label values
        self.sessions[script, end.outcome] += 1
        first_dial = session.first_dial
        if first_dial is not None:
            seconds = max(first_dial - session.started, 0.0)
            self.setup_buckets[bisect.bisect_left(SETUP_BUCKETS, seconds)] += 1
            self.setup_sum += seconds

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when the listener accepts and the database answered recently, or the cache is warm."""
        accepting = self.server.accepting
        body: dict[str, Any] = {"listener": "accepting" if accepting else "closed"}
        healthy = accepting
        if self.cache is not None:
            database = await self.cache.database_ok(DATABASE_FRESH)
            body["database"] = "ok" if database else "down"
            body["cached_dids"] = self.cache.size
            healthy = healthy and (database or self.cache.size > 0)
            if healthy and not database:
                body["note"] = "database down: routing DIDs seen before from the cache"
        body["status"] = "ok" if healthy else "unavailable"
        return healthy, body


def _counters(
    name: str, documentation: str, labels: list[str], counts: collections.Counter[tuple[str, str]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in sorted(counts.items()):
        family.add_metric(values, count)
    return family


class _CallCollector(Collector):
    """The per-call counters of `Metrics`, as Prometheus metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Yield sessions, results and the setup-time histogram as counted so far."""
        metrics = self._metrics
        yield _counters(
            "did_failover_sessions",
            "FastAGI sessions ended, by route (script) and outcome.",
            ["script", "outcome"],
            metrics.sessions,
        )
        yield _counters(
            "did_failover_results",
            "DID calls routed, by DID_FAILOVER_RESULT and the last leg dialled (empty: none).",
            ["result", "leg"],
            metrics.handler.results if metrics.handler is not None else collections.Counter(),
        )
        limits = metrics.handler.limits if metrics.handler is not None else None
        if limits is not None:
            yield CounterMetricFamily(
                "did_failover_limit_fallbacks",
                "Limited DIDs' calls counted by Asterisk's GROUP_COUNT because Redis was unreachable.",
                value=limits.fallbacks,
            )
            yield GaugeMetricFamily(
                "did_failover_redis_up", "0 while Redis is failing, else 1.", value=0 if limits.down else 1
            )
        cumulative = list(itertools.accumulate(metrics.setup_buckets))
        bounds = [repr(bound) for bound in SETUP_BUCKETS] + ["+Inf"]
        yield HistogramMetricFamily(
            "did_failover_session_setup_seconds",
            "Seconds from Asterisk's connection to the first Dial sent.",
            buckets=list(zip(bounds, cumulative, strict=True)),
            sum_value=metrics.setup_sum,
        )


class _LiveCollector(Collector):
    """Values read at scrape time from the server and the DID cache."""

    def __init__(
        self,
        server: Server,
        cache: RouteCache | None,
        history: HistoryWriter | None,
        watcher: ChangeWatcher | None,
        webhooks: WebhookDelivery | None = None,
    ) -> None:
        self._server = server
        self._cache = cache
        self._history = history
        self._watcher = watcher
        self._webhooks = webhooks

    def collect(self) -> Iterator[Metric]:
        """Yield the cache, database and refusal counters as they are now."""
        counters = self._server.counters
        refused = CounterMetricFamily(
            "did_failover_refused_connections",
            "Connections closed before a session started, by reason.",
            labels=["reason"],
        )
        refused.add_metric(["peer_not_allowed"], counters["refused_peer"])
        refused.add_metric(["protocol_error"], counters["protocol_error"])
        yield refused
        if self._history is not None:
            yield CounterMetricFamily(
                "did_failover_call_history_dropped_rows",
                "Call-history rows dropped because the queue was full (the database was down too long).",
                value=self._history.dropped,
            )
        watcher = self._watcher
        if watcher is not None:
            yield CounterMetricFamily(
                "did_failover_changes_applied",
                "Change-log rows applied to the DID cache (each expires what it names).",
                value=watcher.applied,
            )
            yield CounterMetricFamily(
                "did_failover_change_poll_errors",
                "Polls of the change log the database failed or did not answer in time.",
                value=watcher.errors,
            )
            if watcher.last_poll_ok:
                yield GaugeMetricFamily(
                    "did_failover_change_poll_age_seconds",
                    "Seconds since the change log was last read: how stale routing can be at most.",
                    value=round(time.monotonic() - watcher.last_poll_ok, 3),
                )
        if self._webhooks is not None:
            yield from self._webhooks.collect()
        cache = self._cache
        if cache is None:
            return
        lookups = CounterMetricFamily(
            "did_failover_cache_lookups",
            "DID lookups, by source: hit (memory) or miss (asked the database).",
            labels=["source"],
        )
        lookups.add_metric(["hit"], cache.hits)
        lookups.add_metric(["miss"], cache.misses)
        yield lookups
        yield CounterMetricFamily(
            "did_failover_database_errors",
            "DID lookups the database failed or did not answer in time.",
            value=cache.errors,
        )
        yield GaugeMetricFamily(
            "did_failover_database_up",
            "0 while the database is failing, else 1.",
            value=0 if cache.database_down else 1,
        )
        yield GaugeMetricFamily(
            "did_failover_cached_dids", "DIDs held in the lookup cache.", value=cache.size
        )


class MetricsListener:
    """Serves GET /metrics and GET /healthz on DID_FAILOVER_METRICS_LISTEN."""

    def __init__(self, metrics: Metrics, listen: str) -> None:
        self.metrics = metrics
        self.host, self.port = parse_hostport(listen, METRICS_PORT)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind the HTTP listener."""
        self._server = await asyncio.start_server(self._client, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics listening", address=f"{self.host}:{self.port}", paths=["/metrics", "/healthz"])

    async def close(self) -> None:
        """Stop the HTTP listener."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path = await asyncio.wait_for(_read_request(reader), _REQUEST_TIMEOUT)
            status, content_type, body = await self._respond(method, path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (
            TimeoutError,
            ConnectionError,
            ValueError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _respond(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        path = path.split("?", 1)[0]
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self.metrics.exposition()
        if path == "/healthz":
            started = time.monotonic()
            healthy, body = await self.metrics.health()
            body["checked_ms"] = round((time.monotonic() - started) * 1000, 1)
            status = "200 OK" if healthy else "503 Service Unavailable"
            return status, "application/json", json.dumps(body).encode() + b"\n"
        return "404 Not Found", "text/plain", b"try /metrics or /healthz\n"


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """The method and path of one HTTP request; the headers are read and ignored."""
    words = (await reader.readline()).decode("latin-1").split()
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request")
    for _ in range(_MAX_HEADER_LINES):
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return words[0], words[1]
    raise ValueError("too many header lines")
