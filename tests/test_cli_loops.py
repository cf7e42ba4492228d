"""Forward loops through our own DIDs are refused when they are saved, on every way in: `transfer
set`, `did set --primary`, `did add`, CSV import, the page and the API; across tenants without
naming the other tenant's numbers; and `check` reports a loop that only hand-edited SQL could make."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.plugins.web import Site, StartSite, api_error, api_token, csrf_of
from tests.support.db import dump, execute
from tests.support.incli import Run, in_process_cli, ok
from tests.web.conftest import world

A, B, C, D = "15551230001", "15551230002", "15551230003", "15551230004"


@pytest.fixture
def cli(repo_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Resellers 100 and 200, customers 1001 (of 100) and 2001 (of 200); DIDs A, B of 1001, C, D of 2001."""
    run = in_process_cli(repo_url, monkeypatch, capsys)
    ok(run("db", "init"))
    ok(run("account", "add", "100", "--name", "Reseller A", "--type", "reseller"))
    ok(run("account", "add", "200", "--name", "Reseller B", "--type", "reseller"))
    ok(run("account", "add", "1001", "--name", "A1", "--type", "customer", "--reseller", "100"))
    ok(run("account", "add", "2001", "--name", "B1", "--type", "customer", "--reseller", "200"))
    for did, account in ((A, "1001"), (B, "1001"), (C, "2001"), (D, "2001")):
        ok(run("did", "add", did, "--account", account, "--primary", "endpoint:desk"))
    return run


def refused(run: Run, url: str, *argv: str) -> str:
    """The error of a command that must be refused (exit 2) and change nothing: one line (CSV
    import: a line per bad row, then `nothing imported`)."""
    before = dump(url)
    result = run(*argv)
    assert result.code == 2, result
    assert dump(url) == before
    line, *more = result.err.strip().splitlines()
    assert more in ([], ["did-failover: error: nothing imported"]), result.err
    return line


def test_a_busy_forward_back_to_the_first_did_is_refused_naming_the_cycle(cli: Run, repo_url: str) -> None:
    """A busy to B, then B busy to A: refused at save with the cycle and its conditions."""
    ok(cli("transfer", "set", A, "--busy", f"pstn:+{B}"))
    line = refused(cli, repo_url, "transfer", "set", B, "--busy", f"endpoint:bob,pstn:{A}")
    assert (
        line == f"did-failover: error: --busy: this would make a forward loop: {B} -> {A} -> {B} (busy, busy)"
    )
    assert refused(cli, repo_url, "transfer", "set", A, "--no-answer", f"pstn:{A}").endswith(
        f"--no-answer: this would make a forward loop: {A} -> {A} (no answer)"
    )


def test_a_ring_all_member_and_a_primary_close_loops_too(cli: Run, repo_url: str) -> None:
    """Every member of a ring-all step counts, and so does a primary that is one of our DIDs."""
    ok(cli("transfer", "set", A, "--unavailable", f"endpoint:desk&pstn:{B}/20/confirm"))
    assert f"{B} -> {A} -> {B} (primary, unavailable)" in refused(
        cli, repo_url, "did", "set", B, "--primary", f"pstn:{A}"
    )
    ok(cli("did", "remove", B))
    assert f"{B} -> {A} -> {B} (primary, unavailable)" in refused(
        cli, repo_url, "did", "add", B, "--account", "1001", "--primary", f"pstn:{A}"
    )


def test_a_reseller_is_refused_a_loop_through_another_tenant_without_seeing_its_numbers(
    cli: Run, repo_url: str
) -> None:
    """C and D belong to reseller 200: C always to D, D busy to A. Reseller 100 forwarding A to C
    closes A -> C -> D -> A; the message hides C and D and their conditions."""
    ok(cli("transfer", "set", C, "--always", f"pstn:{D}"))
    ok(cli("transfer", "set", D, "--busy", f"pstn:{A}"))
    line = refused(cli, repo_url, "transfer", "set", A, "--busy", f"pstn:{C}", "--as-reseller", "100")
    hidden = "a DID of another account"
    assert line.endswith(
        f"--busy: this would make a forward loop: {A} -> {hidden} -> {hidden} -> {A} (busy, hidden, hidden)"
    )
    assert C not in line and D not in line
    # The admin sees it all.
    assert f"{A} -> {C} -> {D} -> {A} (busy, always, busy)" in refused(
        cli, repo_url, "transfer", "set", A, "--busy", f"pstn:{C}"
    )


def test_a_csv_import_that_closes_a_loop_imports_nothing(cli: Run, repo_url: str, tmp_path: Path) -> None:
    """Two rows that are fine one by one but loop together: the whole file is refused."""
    exported = ok(cli("transfer", "export")).out
    header, *rows = exported.splitlines()
    columns = header.split(",")
    busy = columns.index("busy")

    def with_busy(row: str, value: str) -> str:
        cells = row.split(",")
        cells[busy] = value
        return ",".join(cells)

    edited = [
        with_busy(r, f"pstn:{B}") if r.startswith(A) else with_busy(r, f"pstn:{A}") if r.startswith(B) else r
        for r in rows
    ]
    csv = tmp_path / "transfers.csv"
    csv.write_text("\n".join([header, *edited]) + "\n")
    line = refused(cli, repo_url, "transfer", "import", str(csv))
    assert line == (
        f"did-failover: error: DID {A}: busy: this would make a forward loop: {A} -> {B} -> {A} (busy, busy)"
    )


def test_check_reports_a_loop_made_by_hand_edited_sql(cli: Run, repo_url: str) -> None:
    """The service never writes a loop; an UPDATE behind its back does, and `check` names it."""
    ok(cli("transfer", "set", A, "--busy", f"pstn:{B}"))
    ok(cli("transfer", "set", B, "--busy", "endpoint:bob"))
    execute(
        repo_url,
        "UPDATE did_transfers SET busy_destination = ? WHERE did_id = (SELECT id FROM dids WHERE number = ?)",
        (f"pstn:{A}", B),
    )
    result = cli("check")
    (line,) = [x for x in result.out.splitlines() if "forward loops" in x]
    assert line == (
        f"FAIL  forward loops: 1 loop through our own DIDs: {A} -> {B} -> {A} (busy, busy); "
        "break each with 'transfer set'"
    )


@pytest.fixture
async def site(repo_url: str, start_site: StartSite) -> Site:
    """The web world (DIDs 15550001 of customer 1001, 15550002 of 2001), with 15550002 busy to 15550001."""
    await world(repo_url)
    execute(
        repo_url,
        "UPDATE did_transfers SET busy_destination = ? WHERE did_id = (SELECT id FROM dids WHERE number = ?)",
        ("pstn:15550002", "15550001"),
    )
    return await start_site(repo_url)


async def test_the_page_and_the_api_refuse_a_loop_next_to_the_field(site: Site) -> None:
    """15550001 busy goes to 15550002 (reseller B's). Reseller B forwarding 15550002 back is refused:
    on the page next to Busy, in the API as 422 naming `busy`, without the other tenant's number."""
    async with contextlib.aclosing(await site.login("res-b")) as client:
        h = await api_token(client, "res-b")
        before = dump(site.database_url)
        token = csrf_of((await client.get("/dids/15550002")).text)
        form = {
            "csrf": token,
            "busy_type": "ringall",
            "busy_destination": "endpoint:x & pstn:15550001",
            "busy_confirm": "on",
            "timeout": "25",
            "caller_id": "keep",
            "enabled": "on",
        }
        page = await client.post("/dids/15550002", data=form)
        assert page.status_code == 400
        assert 'id="busy-error"' in page.text
        assert (
            "Busy destination: this would make a forward loop: 15550002 -&gt; a DID of another account"
            in page.text
        )
        assert "15550001" not in page.text.split('id="busy-error"')[1].split("</p>")[0]
        response = await client.put(
            "/api/v1/dids/15550002/forwards/busy",
            headers=h,
            json={"enabled": True, "destination": "pstn:15550001"},
        )
        error = api_error(response, 422)
        assert (
            error["field"] == "busy"
            and "forward loop" in error["message"]
            and "15550001" not in error["message"]
        )
        assert dump(site.database_url) == before
