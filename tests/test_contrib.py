"""The shipped Grafana dashboard and Prometheus alerts: the rules pass `promtool check rules` and
fire in `promtool test rules` as meant, and every metric they name is one a running `serve` exports."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.examples import ROOT
from tests.support.net import free_port, http_get
from tests.support.ops import cli, serve_env
from tests.support.serve import ServeProcess

DASHBOARD = ROOT / "contrib" / "grafana" / "did-failover.json"
ALERTS = ROOT / "contrib" / "prometheus" / "alerts.yml"
PROMTOOL = "/usr/bin/promtool"
_NAME = re.compile(r"\bdid_failover_[a-z_]+\b")
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "info": ("_info",),
}


@pytest.mark.promtool
def test_the_alert_rules_pass_promtool_and_fire_as_meant() -> None:
    """`promtool check rules` finds the six rules valid; `promtool test rules` shows each of the
    server-down, database, error-rate and dropped-rows alerts firing on its series, and not before."""
    checked = subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout + checked.stderr
    tested = subprocess.run(
        [PROMTOOL, "test", "rules", str(ROOT / "tests" / "data" / "alerts_test.yml")],
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _expressions() -> list[str]:
    """Every PromQL expression of the dashboard (panels and variables) and of the rules."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    found += [v["query"] for v in dashboard["templating"]["list"]]
    found += re.findall(r"^\s+expr: (?:>-\n)?(.+(?:\n\s{12}.+)*)", ALERTS.read_text(), re.MULTILINE)
    return found


def exported_names(text: str) -> set[str]:
    """The sample names a /metrics page can hold: each `# TYPE` with its type's suffixes."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            if kind == "counter":  # the TYPE line names a counter with or without its _total
                name = name.removesuffix("_total")
            names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
    return names


async def test_every_metric_of_the_dashboard_and_the_rules_is_exported(
    tmp_path: Path, redis_prefix: str
) -> None:
    """A real serve with the redis limit backend, AMI set up (to nobody) and the change watcher: the
    names the dashboard and the alerts use are all on its /metrics (Prometheus's own `up` aside)."""
    env = serve_env(
        tmp_path,
        free_port(),
        free_port(),
        DID_FAILOVER_LIMIT_BACKEND="redis",
        DID_FAILOVER_REDIS_URL="redis://127.0.0.1:6379/0",
        DID_FAILOVER_REDIS_PREFIX=redis_prefix,
        DID_FAILOVER_AMI_URL=f"ami://nobody:secret@127.0.0.1:{free_port()}",
    )
    assert (await cli(env, "db", "init"))[0] == 0
    serve = await ServeProcess.launch(env)
    try:
        async with asyncio.timeout(20):
            while True:  # the change-log age appears once the watcher has read the log
                _, text = await http_get(serve.metrics_port, "/metrics")
                if "did_failover_change_poll_age_seconds" in text:
                    break
                await asyncio.sleep(0.2)
    finally:
        assert await serve.stop() == 0
    exported = exported_names(text)
    used = {name for expr in _expressions() for name in _NAME.findall(expr)}
    assert len(used) >= 12, used
    assert used - exported == set(), f"not exported by serve: {sorted(used - exported)}"
    rules = ALERTS.read_text()
    assert "up{" in rules  # the one name not ours: the scrape's own


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    """One panel each: calls by result and by leg, failovers by condition, database, Redis and AMI,
    limit fallbacks and dropped history rows, the change-log watcher's lag."""
    dashboard = json.loads(DASHBOARD.read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {
        "Calls by result",
        "Calls by leg",
        "Failovers by condition",
        "Database",
        "Redis (channel limits)",
        "AMI",
        "Limit fallbacks and dropped history rows",
        "Change-log watcher lag",
    } <= titles
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
