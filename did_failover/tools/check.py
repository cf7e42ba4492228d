"""`did-failover check`: settings, database schema, AMI login, Redis (with the redis channel-limit
backend), the running server; one OK/FAIL line each."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError

from did_failover.admin.loops import stored_loops
from did_failover.console import EXIT_FAILED, EXIT_INPUT, PERSON_TIMEOUT
from did_failover.errors import InputError, StorageUnavailable
from did_failover.settings import (
    AGI_PORT,
    METRICS_PORT,
    Settings,
    load_settings_or_report,
    parse_ami_url,
    parse_hostport,
)
from did_failover.storage import Repository, check_schema, open_repository
from fastagi.client import call, environment, ok_responder

T = TypeVar("T")
TIMEOUT = PERSON_TIMEOUT
"""Seconds each network check may take."""


class CheckFailed(Exception):
    """A check did not pass; the message says what was found."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check's line."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """`OK    name: detail` or `FAIL  name: detail`."""
        return f"{'OK' if self.ok else 'FAIL':<5} {self.name}: {self.detail}"


def run(config: Path | None, out: TextIO | None = None) -> int:
    """Run every check, print one line per check (to stdout unless `out`); 0 only when all pass."""
    out = sys.stdout if out is None else out
    settings = load_settings_or_report(
        config, lambda error: print(Outcome("settings", False, error).line(), file=out)
    )
    if settings is None:
        return EXIT_INPUT
    source = f"from {config} and the environment" if config else "from the environment"
    print(Outcome("settings", True, f"valid ({source})").line(), file=out, flush=True)
    outcomes = asyncio.run(_checks(settings, out))
    return 0 if all(o.ok for o in outcomes) else EXIT_FAILED


async def _checks(settings: Settings, out: TextIO) -> list[Outcome]:
    checks: list[tuple[str, Callable[[Settings], Awaitable[str]]]] = [
        ("database", check_database),
        ("forward loops", check_loops),
    ]
    if settings.ami_url:
        checks.append(("AMI", check_ami))
    if settings.limit_backend == "redis":
        checks.append(("Redis", check_redis))
    checks.append(("FastAGI", check_fastagi))
    if settings.metrics_listen:
        checks.append(("metrics", check_metrics))
    outcomes = []
    for name, check in checks:
        try:
            outcome = Outcome(name, True, await asyncio.wait_for(check(settings), TIMEOUT * 2))
        except CheckFailed as exc:
            outcome = Outcome(name, False, str(exc))
        except TimeoutError:
            outcome = Outcome(name, False, f"no answer within {TIMEOUT * 2:g} s")
        print(outcome.line(), file=out, flush=True)
        outcomes.append(outcome)
    return outcomes


async def _in_database(settings: Settings, work: Callable[[Repository, int], Awaitable[T]]) -> T:
    """Open the configured database, check its schema, `work` on it (given the schema version),
    close it; a failure is one CheckFailed naming the database (password hidden)."""
    try:
        repo = open_repository(settings.database_url, max(settings.db_timeout, TIMEOUT))
        try:
            return await work(repo, await check_schema(repo))
        finally:
            await repo.close()
    except (StorageUnavailable, InputError, OSError) as exc:
        raise CheckFailed(f"{redact(settings.database_url)}: {exc}") from None


async def check_database(settings: Settings) -> str:
    """Connect and compare the schema version with this program's."""

    async def version(_repo: Repository, schema: int) -> int:
        return schema

    return f"{redact(settings.database_url)}, schema version {await _in_database(settings, version)}"


async def check_loops(settings: Settings) -> str:
    """Follow every DID's primary and forward lists through our own DIDs: a loop there is refused
    when it is saved, so one found here was made behind the service's back (hand-edited SQL)."""

    async def loops_of(repo: Repository, _schema: int) -> list[str]:
        return await stored_loops(repo)

    loops = await _in_database(settings, loops_of)
    if loops:
        count = f"{len(loops)} loop{'s' if len(loops) > 1 else ''}"
        listed = "; ".join(loops)
        raise CheckFailed(f"{count} through our own DIDs: {listed}; break each with 'transfer set'")
    return "none through our own DIDs"


async def check_ami(settings: Settings) -> str:
    """Log into the Asterisk Manager Interface with DID_FAILOVER_AMI_URL, then log off."""
    try:
        target = parse_ami_url(settings.ami_url)
    except ValueError as exc:
        raise CheckFailed(f"DID_FAILOVER_AMI_URL: {exc}") from None
    where = f"{target.host}:{target.port} as {target.username}"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port), TIMEOUT)
    except OSError as exc:
        raise CheckFailed(f"{where}: cannot connect: {exc.strerror or exc}") from None
    try:
        banner = (await asyncio.wait_for(reader.readline(), TIMEOUT)).decode(errors="replace").strip()
        if not banner.startswith("Asterisk Call Manager"):
            raise CheckFailed(f"{where}: not an Asterisk Manager Interface (greeting {banner[:60]!r})")
        login = {
            "Action": "Login",
            "Username": target.username,
            "Secret": target.secret,
            "Events": "off",
        }
        response = await _ami_action(reader, writer, login)
        if response.get("Response") != "Success":
            raise CheckFailed(f"{where}: login refused: {response.get('Message', 'no reason given')}")
        await _ami_action(reader, writer, {"Action": "Logoff"})
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise CheckFailed(f"{where}: connection lost: {exc}") from None
    finally:
        writer.close()
    return f"logged in to {where} ({banner})"


async def _ami_action(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, action: dict[str, str]
) -> dict[str, str]:
    """Send one action and read the response block (events are off, so the next block is it)."""
    writer.write("".join(f"{k}: {v}\r\n" for k, v in action.items()).encode() + b"\r\n")
    await writer.drain()
    response: dict[str, str] = {}
    while True:
        line = await asyncio.wait_for(reader.readline(), TIMEOUT)
        if not line:
            return response
        text = line.decode(errors="replace").rstrip("\r\n")
        if not text:
            if response:
                return response
            continue
        key, _, value = text.partition(":")
        response[key.strip()] = value.strip()


async def check_redis(settings: Settings) -> str:
    """PING the channel-limit Redis and name the servers that hold calls in it now."""
    where = redact(settings.redis_url)
    redis = Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    try:
        await redis.ping()
        version = (await redis.info("server")).get("redis_version", "?")
        prefix = f"{settings.redis_prefix}node:"
        nodes = sorted(
            [key.decode()[len(prefix) :] async for key in redis.scan_iter(f"{prefix}*", count=1000)]
        )
    except (RedisError, OSError) as exc:
        raise CheckFailed(f"{where}: {type(exc).__name__}: {exc}") from None
    finally:
        await redis.aclose()
    holding = ", ".join(nodes) if nodes else "none"
    return f"{where}: Redis {version}, servers holding calls now: {holding}"


async def check_fastagi(settings: Settings) -> str:
    """Open a FastAGI session to the running server's `health` route, as Asterisk would."""
    host, port = local_address(settings.listen, AGI_PORT)
    try:
        env = environment("health", uniqueid="check", extension="health")
        result = await call(host, port, env, ok_responder(), TIMEOUT)
    except OSError as exc:
        raise CheckFailed(
            f"agi://{_hostport(host, port)}/health: cannot connect ({exc}); is 'did-failover serve' running?"
        ) from None
    if result.failure or result.commands != ['VERBOSE "did-failover healthy" 3']:
        seen = "; ".join(result.commands) or ("failure" if result.failure else "nothing")
        raise CheckFailed(f"agi://{_hostport(host, port)}/health answered {seen!r}")
    return f"agi://{_hostport(host, port)}/health answered"


async def check_metrics(settings: Settings) -> str:
    """GET /healthz from the running server's metrics listener."""
    host, port = local_address(settings.metrics_listen, METRICS_PORT)
    url = f"http://{_hostport(host, port)}/healthz"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
    except OSError as exc:
        raise CheckFailed(f"{url}: cannot connect ({exc})") from None
    try:
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(65536), TIMEOUT)
    except OSError as exc:
        raise CheckFailed(f"{url}: {exc}") from None
    finally:
        writer.close()
    head, _, body = raw.decode(errors="replace").partition("\r\n\r\n")
    status = head.split("\r\n", 1)[0].partition(" ")[2]
    try:
        state = json.loads(body)
    except ValueError:
        state = {}
    detail = ", ".join(f"{k} {v}" for k, v in state.items() if k in ("listener", "database", "cached_dids"))
    if not status.startswith("200"):
        raise CheckFailed(f"{url}: {status or 'no answer'} ({detail})")
    return f"{url}: {status} ({detail})"


def local_address(listen: str, default_port: int) -> tuple[str, int]:
    """Where to reach a listener from this machine: a wildcard address becomes loopback."""
    host, port = parse_hostport(listen, default_port)
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host), port


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def redact(url: str) -> str:
    """The URL without its password, for output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[2]}"))
