"""`did-failover check` against a running server and database, and with pieces missing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis

from tests.plugins.redis import REDIS_PORT
from tests.support.net import free_port
from tests.support.ops import cli, serve_env
from tests.support.serve import ServeProcess


async def test_check_passes_against_a_running_server(tmp_path: Path) -> None:
    """Settings, database, FastAGI health route and /healthz: one OK line each, exit 0."""
    env = serve_env(tmp_path, free_port(), free_port())
    assert (await cli(env, "db", "init"))[0] == 0
    serve = await ServeProcess.launch(env)
    try:
        code, out, _ = await cli(env, "check")
    finally:
        assert await serve.stop() == 0
    lines = out.splitlines()
    assert code == 0, out
    assert [line.split(":")[0].split()[-1] for line in lines] == [
        "settings",
        "database",
        "loops",
        "FastAGI",
        "metrics",
    ]
    assert all(line.startswith("OK ") for line in lines)
    assert "schema version 7" in lines[1] and "/health answered" in lines[3]
    assert lines[2] == "OK    forward loops: none through our own DIDs"


async def test_check_fails_when_the_server_is_down(tmp_path: Path) -> None:
    """Nothing listening: FAIL lines for the FastAGI and metrics checks, exit 1."""
    env = serve_env(tmp_path, free_port(), free_port())
    assert (await cli(env, "db", "init"))[0] == 0
    code, out, _ = await cli(env, "check")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("OK    settings") and lines[1].startswith("OK    database")
    assert lines[3].startswith("FAIL  FastAGI:") and "is 'did-failover serve' running?" in lines[3]
    assert lines[4].startswith("FAIL  metrics:")


async def test_check_fails_without_schema_and_with_bad_settings(tmp_path: Path) -> None:
    """An empty database names the fix; a bad setting is one FAIL line and nothing else runs."""
    env = serve_env(tmp_path, free_port())
    code, out, _ = await cli(env, "check")
    assert code == 1 and "FAIL  database:" in out and "run 'did-failover db init'" in out
    code, out, _ = await cli({**env, "DID_FAILOVER_ALLOW": "nonsense"}, "check")
    assert code == 2 and out.splitlines() == [out.splitlines()[0]]
    assert out.startswith("FAIL  settings: setting DID_FAILOVER_ALLOW")


async def test_check_logs_into_ami_and_reports_a_refused_login(tmp_path: Path) -> None:
    """With DID_FAILOVER_AMI_URL set, a refused AMI login is a FAIL line naming the reason."""
    seen: list[str] = []

    async def fake_ami(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        while line := await reader.readline():
            seen.append(line.decode().strip())
            if line == b"\r\n":
                ok = "Secret: right" in seen
                writer.write(
                    b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
                    if ok
                    else b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
                )
                seen.clear()
        writer.close()

    server = await asyncio.start_server(fake_ami, "127.0.0.1", 0)
    ami_port = server.sockets[0].getsockname()[1]
    env = serve_env(tmp_path, free_port())
    assert (await cli(env, "db", "init"))[0] == 0
    try:
        _, out, _ = await cli(
            {**env, "DID_FAILOVER_AMI_URL": f"ami://did:wrong@127.0.0.1:{ami_port}"}, "check"
        )
        assert f"FAIL  AMI: 127.0.0.1:{ami_port} as did: login refused: Authentication failed" in out
        _, out, _ = await cli(
            {**env, "DID_FAILOVER_AMI_URL": f"ami://did:right@127.0.0.1:{ami_port}"}, "check"
        )
        assert f"OK    AMI: logged in to 127.0.0.1:{ami_port} as did" in out
    finally:
        server.close()


async def test_database_url_comes_from_a_systemd_credential(tmp_path: Path) -> None:
    """LoadCredential=database_url:...: the URL is read from $CREDENTIALS_DIRECTORY, not the environment."""
    env = serve_env(tmp_path, free_port())
    assert (await cli(env, "db", "init"))[0] == 0
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "database_url").write_text(env.pop("DID_FAILOVER_DATABASE_URL") + "\n")
    _, out, _ = await cli({**env, "CREDENTIALS_DIRECTORY": str(credentials)}, "check")
    assert f"OK    database: sqlite:///{tmp_path / 'db.sqlite'}, schema version 7" in out


async def test_check_pings_redis_with_the_redis_limit_backend(tmp_path: Path, redis_prefix: str) -> None:
    """With DID_FAILOVER_LIMIT_BACKEND=redis: an OK line naming the servers that hold calls in Redis,
    and a FAIL line, password hidden, when Redis is not there."""
    env = serve_env(
        tmp_path,
        free_port(),
        DID_FAILOVER_LIMIT_BACKEND="redis",
        DID_FAILOVER_REDIS_URL=f"redis://127.0.0.1:{REDIS_PORT}/0",
        DID_FAILOVER_REDIS_PREFIX=redis_prefix,
    )
    assert (await cli(env, "db", "init"))[0] == 0
    redis = Redis(port=REDIS_PORT)
    await redis.hset(f"{redis_prefix}node:serve-1", "serve-1/call", f"{redis_prefix}did:1555")
    await redis.aclose()
    _, out, _ = await cli(env, "check")
    line = next(line for line in out.splitlines() if "Redis" in line.split(":")[0])
    assert line.startswith("OK    Redis: redis://127.0.0.1:6379/0: Redis ") and line.endswith(
        "servers holding calls now: serve-1"
    ), line
    closed = free_port()
    _, out, _ = await cli(
        {**env, "DID_FAILOVER_REDIS_URL": f"redis://:hunter2@127.0.0.1:{closed}/0"}, "check"
    )
    line = next(line for line in out.splitlines() if "Redis" in line.split(":")[0])
    assert line.startswith(f"FAIL  Redis: redis://:***@127.0.0.1:{closed}/0: ConnectionError"), line
    assert "hunter2" not in out
