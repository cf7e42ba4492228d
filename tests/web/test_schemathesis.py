"""Schemathesis (from PyPI) against the OpenAPI description, on a live `did-failover web`: no 5xx,
every response as described, and no accepted request stores a destination the CLI would refuse."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from did_failover.admin import validation as valid
from did_failover.admin.service import ADMIN, Service
from did_failover.storage import open_repository
from tests.plugins.web import PASSWORD, StartSite
from tests.support.db import execute
from tests.web.conftest import world

pytestmark = pytest.mark.slow  # property runs of tens of seconds: not in scripts/test --quick

ST = Path(sys.executable).with_name("st")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


async def test_schemathesis_finds_no_server_error_and_no_response_off_the_schema(
    sqlite_url: str, start_site: StartSite, tmp_path: Path
) -> None:
    """A few thousand generated requests as the admin, over DIDs that exist (the description's
    examples name one), then every stored destination passes the CLI's validation."""
    await world(sqlite_url)
    async with open_repository(sqlite_url, 5.0) as repo:
        await Service(repo).add_did(ADMIN, "15551230000", "1001", "endpoint:desk")
    site = await start_site(sqlite_url)
    async with httpx.AsyncClient(base_url=site.url) as client:
        token = (await client.post("/api/v1/tokens", json={"username": "root", "password": PASSWORD})).json()[
            "token"
        ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "HOME": str(tmp_path)}
    run = await asyncio.create_subprocess_exec(
        str(ST), "run", f"{site.url}/api/v1/openapi.json",
        "-H", f"Authorization: Bearer {token}",
        "--checks", CHECKS, "--max-examples", "40", "--seed", "1", "--no-color",
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(run.communicate(), 300)
    report = out.decode(errors="replace")
    assert run.returncode == 0, report[-4000:]
    assert " passed" in report and "failures" not in report.split("SUMMARY")[-1].lower(), report[-2000:]
    columns = ("always_destination", "busy_destination", "no_answer_destination", "unavailable_destination")
    stored = [
        v for row in execute(sqlite_url, f"SELECT {', '.join(columns)} FROM did_transfers") for v in row if v
    ]
    stored += [row[0] for row in execute(sqlite_url, "SELECT primary_destination FROM dids")]
    for destination in stored:
        valid.destination(destination, "stored")  # raises for anything the CLI would refuse
