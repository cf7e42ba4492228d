"""SIGHUP reload of a running `did-failover serve`: live settings change, a bad file changes nothing."""

from __future__ import annotations

import signal
from pathlib import Path

from fastagi.client import call, environment, ok_responder
from tests.support.net import free_port
from tests.support.ops import NotifySocket, cli, serve_env
from tests.support.serve import ServeProcess


async def test_sighup_reloads_log_level_and_allowlist_and_refuses_a_bad_file(tmp_path: Path) -> None:
    """Log level and allowlist change on SIGHUP; a bad config is refused with one line, the old one kept."""
    port = free_port()
    notify = NotifySocket()  # READY=1 after each SIGHUP says the reload is done
    env = serve_env(tmp_path, port, NOTIFY_SOCKET=notify.path)
    config = tmp_path / "config.toml"
    config.write_text('log_level = "info"\n')
    assert (await cli(env, "db", "init"))[0] == 0
    serve = await ServeProcess.launch(env, "--config", str(config))
    await notify.wait_for("READY")
    health = environment("health")

    await call("127.0.0.1", port, health, ok_responder())
    assert (await serve.wait_for("session"))["outcome"] == "healthy"

    config.write_text('log_level = "warning"\n')
    serve.signal(signal.SIGHUP)
    await serve.wait_for("reloaded")  # logged at info, before the new level applies
    await notify.wait_for("READY")
    served = await call("127.0.0.1", port, health, ok_responder())
    assert not served.failure and served.commands  # served, but its info line is no longer written

    config.write_text('log_level = "warning"\nallow = "10.0.0.0/33"\n')
    serve.signal(signal.SIGHUP)
    refused = await serve.wait_for("reload refused, running settings kept")
    assert "DID_FAILOVER_ALLOW" in refused["error"] and refused["level"] == "error"
    assert "reload refused" in (await notify.wait_for("READY"))["STATUS"]
    assert (await call("127.0.0.1", port, health, ok_responder())).commands  # old allowlist still works

    config.write_text('log_level = "warning"\nallow = "10.0.0.0/8"\n')
    serve.signal(signal.SIGHUP)
    await notify.wait_for("READY")
    not_allowed = await call("127.0.0.1", port, health, ok_responder())
    assert not_allowed.commands == []  # closed at accept
    assert (await serve.wait_for("peer not allowed"))["level"] == "warning"

    assert await serve.stop() == 0
    notify.close()
    events = [line["event"] for line in serve.lines()]
    assert events.count("session") == 1  # only the call made before the level went to warning
    assert events.count("reload refused, running settings kept") == 1
