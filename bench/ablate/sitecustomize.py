"""Loaded into the did-failover server by `bench.run --without ...` (never in production).

Replaces one piece of the per-call work with a no-op so the benchmark can show what each piece
costs: `history` (call-history rows), `log` (the canonical line), `metrics` (per-call counters),
`look_ahead` (each read-back setting what comes next: every assignment is a command again).
"""

from __future__ import annotations

import os

_WITHOUT = set(filter(None, os.environ.get("DID_FAILOVER_BENCH_WITHOUT", "").split(",")))

if "history" in _WITHOUT:
    import did_failover.calls.history

    did_failover.calls.history.HistoryWriter.add = lambda self, row: None  # type: ignore[method-assign]
if "log" in _WITHOUT:
    import did_failover.logs

    did_failover.logs.session_line = lambda component, fields: None  # type: ignore[assignment]
if "metrics" in _WITHOUT:
    import did_failover.runtime.metrics

    did_failover.runtime.metrics.Metrics.observe = lambda self, session, end: None  # type: ignore[method-assign]
if "look_ahead" in _WITHOUT:
    import did_failover.routing.handler

    _init = did_failover.routing.handler.DIDFailover.__init__

    def _without_look_ahead(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        _init(self, *args, **kwargs)
        self.look_ahead = False

    did_failover.routing.handler.DIDFailover.__init__ = _without_look_ahead  # type: ignore[method-assign]
