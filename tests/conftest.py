"""The suite's plugins: log capture, event loops, in-process servers, the Asterisk test bed, databases,
and the markers that follow from the fixtures a test uses."""

from __future__ import annotations

pytest_plugins = [
    "tests.plugins.logs",
    "tests.plugins.loops",
    "tests.plugins.servers",
    "tests.plugins.testbed",
    "tests.plugins.own_mariadb",
    "tests.plugins.galera",
    "tests.plugins.dns",
    "tests.plugins.redis",
    "tests.plugins.web",
    "tests.plugins.nspawn",
    "tests.plugins.databases",
    "tests.plugins.markers",
    "tests.plugins.figures",
    "tests.plugins.webhooks",
]
