"""`did-failover web`: the web page under uvicorn, a process of its own (nothing here routes calls)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path

import uvicorn
from redis.asyncio import Redis

from did_failover.console import EXIT_FAILED, EXIT_INPUT, PERSON_TIMEOUT, error
from did_failover.errors import StorageUnavailable
from did_failover.logs import configure, get_logger
from did_failover.settings import WEB_PORT, Settings, load_settings_or_report, parse_hostport
from did_failover.storage import open_checked
from did_failover.web import auth
from did_failover.web.app import create_app
from did_failover.web.pages import Web
from did_failover.webhooks.delivery import WebhookDelivery

log = get_logger("did_failover.web")
SWEEP_EVERY = 300.0
"""Seconds between two deletions of idle sessions."""


def run(config: Path | None) -> int:
    """Serve the web page until SIGTERM or SIGINT; exit 2 for bad settings, 1 for a database problem."""
    settings = load_settings_or_report(config)
    if settings is None:
        return EXIT_INPUT
    configure(settings.log_level, settings.log_format)
    try:
        return asyncio.run(_serve(settings))
    except StorageUnavailable as exc:
        error(str(exc))
        return EXIT_FAILED


async def _serve(settings: Settings) -> int:
    repo = await open_checked(settings.database_url, max(settings.db_timeout, PERSON_TIMEOUT))
    # Generated once and kept in the database, so that every web process behind one load balancer
    # signs login forms with the same key and no fixed default exists.
    login_key = await repo.web_secret(auth.KEY_ROW, secrets.token_urlsafe(32))
    redis = None
    if settings.redis_url:
        timeout = PERSON_TIMEOUT
        redis = Redis.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    web = Web(
        repo,
        login_key,
        session_idle=settings.web_session_idle,
        session_lifetime=settings.web_session_lifetime,
        max_ring=settings.max_ring_total,
        failures=auth.RedisFailures(redis, settings.redis_prefix, repo) if redis else None,
        webhook_allow=settings.webhook_allow,
        webhook_timeout=settings.webhook_timeout,
    )
    sweeper: asyncio.Task[None] | None = None
    webhooks = WebhookDelivery.from_settings(repo, settings)

    async def start() -> Web:
        nonlocal sweeper
        sweeper = asyncio.get_running_loop().create_task(_sweep(web))
        if webhooks is not None:
            webhooks.start()
        return web

    async def close() -> None:
        if webhooks is not None:
            await webhooks.close()
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        if redis is not None:
            await redis.aclose()
        await repo.close()

    host, port = parse_hostport(settings.web_listen, WEB_PORT)
    config = uvicorn.Config(
        create_app(start, close),
        host=host,
        port=port,
        # X-Forwarded-For and -Proto only from the proxies named; the client is the right-most hop
        # that is not one of them. None named: the headers are ignored.
        proxy_headers=bool(settings.web_trusted_proxies),
        forwarded_allow_ips=[str(network) for network in settings.web_trusted_proxies],
        server_header=False,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    log.info("web page", listen=f"{host}:{port}", database=settings.database_url.split("@")[-1])
    await server.serve()
    return 0


async def _sweep(web: Web) -> None:
    while True:
        await asyncio.sleep(SWEEP_EVERY)
        with contextlib.suppress(StorageUnavailable):
            await web.sessions.sweep()
