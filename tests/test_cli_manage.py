"""The management CLI as a sysadmin uses it, on SQLite and on the real MariaDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from did_failover.main import main
from tests.support.db import dump, execute
from tests.support.incli import Run, in_process_cli, ok

CLI = Path(sys.executable).with_name("did-failover")


@pytest.fixture
def cli(repo_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `did-failover ARGS...` in-process against the test database (`stdin=` feeds it)."""
    return in_process_cli(repo_url, monkeypatch, capsys)


@pytest.fixture
def world(cli: Run) -> Run:
    """Two resellers with one customer and one DID each, an admin-owned customer, transfer set on one DID."""
    ok(cli("db", "init"))
    ok(cli("account", "add", "100", "--name", "Reseller A", "--type", "reseller"))
    ok(cli("account", "add", "200", "--name", "Reseller B", "--type", "reseller"))
    ok(cli("account", "add", "1001", "--name", "Customer A1", "--type", "customer", "--reseller", "100"))
    ok(cli("account", "add", "2001", "--name", "Customer B1", "--type", "customer", "--as-reseller", "200"))
    ok(cli("account", "add", "3001", "--name", "Direct", "--type", "customer"))
    ok(cli("did", "add", "+15550001", "--account", "1001", "--primary", "pstn:+4930111"))
    ok(
        cli(
            "did",
            "add",
            "15550002",
            "--account",
            "2001",
            "--primary",
            "endpoint:desk-2",
            "--as-reseller",
            "200",
        )
    )
    ok(cli("transfer", "set", "15550001", "--busy", "pstn:+4930999", "--as-reseller", "100"))
    return cli


def test_sysadmin_walkthrough_creates_reseller_customer_did_and_transfer(cli: Run, repo_url: str) -> None:
    """From an empty database to a DID with transfer settings, each step confirmed in one line."""
    assert ok(cli("db", "init")).out == "database schema version 7 ready\n"
    assert ok(cli("db", "init")).out == "database schema version 7 ready\n"
    out = ok(cli("account", "add", "100", "--name", "Acme Reseller", "--type", "reseller")).out
    assert out == "account 100 added: reseller\n"
    out = ok(
        cli("account", "add", "1001", "--name", "Bob's Bakery", "--type", "customer", "--reseller", "100")
    ).out
    assert out == "account 1001 added: customer of reseller 100\n"
    out = ok(
        cli(
            "did",
            "add",
            "+4930555123",
            "--account",
            "1001",
            "--primary",
            "sip:bob@pbx.example.com:5060",
            "--ring-timeout",
            "25",
            "--max-channels",
            "2",
        )
    ).out
    assert out == "DID 4930555123 added to account 1001: primary sip:bob@pbx.example.com:5060\n"
    out = ok(
        cli(
            "transfer",
            "set",
            "+4930555123",
            "--busy",
            "pstn:+4930999888",
            "--no-answer",
            "endpoint:reception",
            "--unavailable",
            "sip:backup@[2001:db8::5]:5070",
            "--timeout",
            "20",
            "--caller-id",
            "did",
        )
    ).out
    assert out == "transfer of DID 4930555123 updated: on\n"
    table = ok(cli("transfer", "list")).out.splitlines()
    assert table[0] == "DIDs Call Transfer"
    assert table[1].split() == [
        "DID",
        "ACCOUNT",
        "DID",
        "TYPE",
        "PRIMARY",
        "BUSY",
        "NO",
        "ANSWER",
        "UNAVAILABLE",
        "ALWAYS",
        "AFTER",
        "HOURS",
        "TRANSFER",
    ]
    assert table[2].split() == [
        "4930555123",
        "1001",
        "sip",
        "sip:bob@pbx.example.com:5060",
        "pstn:+4930999888",
        "endpoint:reception",
        "sip:backup@[2001:db8::5]:5070",
        "-",
        "-",
        "on",
    ]
    assert table[1].index("PRIMARY") == table[2].index("sip:bob")
    shown = json.loads(ok(cli("transfer", "show", "4930555123", "--json")).out)
    assert shown["busy"] == "pstn:+4930999888"
    assert (shown["timeout"], shown["caller_id"], shown["status"]) == (20, "did", "on")
    assert shown["updated_by"] == "cli:alice"
    assert json.loads(ok(cli("transfer", "list", "--json")).out)[0]["did_type"] == "sip"
    accounts = json.loads(ok(cli("account", "list", "--json")).out)
    assert [(a["number"], a["type"], a["reseller"]) for a in accounts] == [
        ("100", "reseller", None),
        ("1001", "customer", "100"),
    ]
    dids = json.loads(ok(cli("did", "list", "--account", "1001", "--json")).out)
    assert [(d["did"], d["ring_timeout"], d["max_channels"]) for d in dids] == [("4930555123", 25, 2)]
    assert execute(repo_url, "SELECT COUNT(*) FROM did_transfers") == [(1,)]
    assert ok(cli("did", "remove", "+4930555123")).out == (
        "DID 4930555123 removed with its transfer settings; its call history and its changes stay"
        " ('did-failover calls --did 4930555123', 'did-failover changes --did 4930555123')\n"
    )
    assert execute(repo_url, "SELECT COUNT(*) FROM did_transfers") == [(0,)]


def test_account_transfer_switch_off_shows_in_transfer_list(world: Run) -> None:
    """With the account-level switch off, a DID whose own transfer is on lists as `off (account)`."""
    ok(world("account", "set", "1001", "--transfer", "off"))
    rows = {r["did"]: r for r in json.loads(ok(world("transfer", "list", "--json")).out)}
    assert (rows["15550001"]["transfer"], rows["15550001"]["account_transfer"]) == ("on", "off")
    assert rows["15550001"]["status"] == "off (account)"
    assert rows["15550002"]["status"] == "on"  # never configured: the switch is on, nothing to forward to
    assert "off (account)" in ok(world("transfer", "list")).out


def test_transfer_set_none_clears_and_off_switches_off(world: Run) -> None:
    """`--busy none` clears a destination; `--off` keeps the destinations but switches transfer off."""
    ok(world("transfer", "set", "15550001", "--always", "sip:x@example.com", "--off"))
    ok(world("transfer", "set", "15550001", "--busy", "none"))
    shown = json.loads(ok(world("transfer", "show", "15550001", "--json")).out)
    assert (shown["busy"], shown["always"], shown["transfer"]) == (None, "sip:x@example.com", "off")


def test_reseller_sees_only_its_own_customers_and_dids(world: Run) -> None:
    """Lists under --as-reseller hold the reseller's customers and their DIDs, nothing else."""
    accounts = json.loads(ok(world("account", "list", "--json", "--as-reseller", "100")).out)
    assert [a["number"] for a in accounts] == ["1001"]
    dids = json.loads(ok(world("did", "list", "--json", "--as-reseller", "100")).out)
    assert [d["did"] for d in dids] == ["15550001"]
    transfers = json.loads(ok(world("transfer", "list", "--json", "--as-reseller", "200")).out)
    assert [t["did"] for t in transfers] == ["15550002"]
    exported = ok(world("transfer", "export", "--as-reseller", "200")).out.splitlines()
    assert [line.split(",")[0] for line in exported] == ["did", "15550002"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["did", "set", "15550001", "--ring-timeout", "10"], "DID 15550001 not found"),
        (["did", "remove", "+15550001"], "DID 15550001 not found"),
        (["did", "list", "--account", "1001"], "account 1001 not found"),
        (["did", "add", "15550009", "--account", "1001", "--primary", "pstn:123"], "account 1001 not found"),
        (["did", "set", "15550002", "--account", "1001"], "account 1001 not found"),
        (["transfer", "set", "15550001", "--busy", "none"], "DID 15550001 not found"),
        (["transfer", "show", "15550001"], "DID 15550001 not found"),
        (["account", "set", "1001", "--inactive"], "account 1001 not found"),
        (["account", "set", "200", "--name", "Mine now"], "account 200 not found"),
        (["account", "set", "100", "--transfer", "off"], "account 100 not found"),
        (["account", "set", "3001", "--inactive"], "account 3001 not found"),
        (
            ["account", "add", "2009", "--name", "X", "--type", "customer", "--reseller", "100"],
            "account 100 not found",
        ),
        (["transfer", "set", "15559999", "--off"], "DID 15559999 not found"),
    ],
)
def test_reseller_cannot_see_or_change_another_resellers_things(
    world: Run, repo_url: str, argv: list[str], message: str
) -> None:
    """Another reseller's (or the admin's) account or DID is simply "not found": exit 2, nothing changed."""
    before = dump(repo_url)
    result = world(*argv, "--as-reseller", "200")
    assert result.code == 2
    assert result.err == f"did-failover: error: {message}\n"
    assert result.out == ""
    assert dump(repo_url) == before


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["account", "add", "1001", "--name", "Again", "--type", "customer"], "account 1001 already exists"),
        (["account", "add", "bad number", "--name", "X", "--type", "admin"], "NUMBER: 'bad number'"),
        (["account", "add", "4001", "--name", "", "--type", "admin"], "--name"),
        (["account", "add", "4001", "--name", "X", "--type", "reseller", "--reseller", "100"], "--reseller"),
        (
            ["account", "add", "4001", "--name", "X", "--type", "customer", "--reseller", "1001"],
            "not a reseller",
        ),
        (
            ["account", "add", "4001", "--name", "X", "--type", "customer", "--reseller", "999"],
            "account 999 not found",
        ),
        (["account", "add", "4001", "--name", "X", "--type", "reseller", "--as-reseller", "100"], "--type"),
        (["account", "add", "4001", "--name", "X", "--type", "wizard"], "invalid choice"),
        (["account", "set", "1001"], "nothing to change"),
        (["account", "set", "9999", "--inactive"], "account 9999 not found"),
        (["account", "list", "--as-reseller", "1001"], "--as-reseller"),
        (
            ["did", "add", "15550001", "--account", "1001", "--primary", "pstn:123"],
            "DID 15550001 already exists",
        ),
        (["did", "add", "12", "--account", "1001", "--primary", "pstn:123"], "3 to 20 digits"),
        (["did", "add", "15550009", "--account", "100", "--primary", "pstn:123"], "DIDs belong to customers"),
        (["did", "add", "15550009", "--account", "1001", "--primary", "pstn:12&3"], "--primary"),
        (["did", "add", "15550009", "--account", "1001", "--primary", "sip:a b@x"], "RFC 3261"),
        (
            ["did", "add", "15550009", "--account", "1001", "--primary", "pstn:123", "--ring-timeout", "0"],
            "--ring-timeout",
        ),
        (
            ["did", "add", "15550009", "--account", "1001", "--primary", "pstn:123", "--ring-timeout", "301"],
            "1..300",
        ),
        (
            ["did", "add", "15550009", "--account", "1001", "--primary", "pstn:123", "--max-channels", "-1"],
            "--max-channels",
        ),
        (
            ["did", "add", "15550009", "--account", "1001", "--primary", "pstn:123", "--ring-timeout", "x"],
            "invalid int",
        ),
        (["did", "set", "15550001"], "nothing to change"),
        (["did", "set", "15550001", "--primary", "endpoint:a,b"], "endpoint"),
        (["did", "set", "15550001", "--active", "--inactive"], "not allowed with"),
        (["did", "remove", "15559999"], "DID 15559999 not found"),
        (["transfer", "set", "15550001"], "nothing to change"),
        (["transfer", "set", "15550001", "--busy", "sip:${EXTEN}@x"], "--busy"),
        (["transfer", "set", "15550001", "--no-answer", "pstn:123)"], "--no-answer"),
        (["transfer", "set", "15550001", "--unavailable", "tel:123"], "--unavailable"),
        (["transfer", "set", "15550001", "--always", "sip:a@b\nc"], "--always"),
        (["transfer", "set", "15550001", "--timeout", "0"], "--timeout"),
        (["transfer", "set", "15550001", "--caller-id", "both"], "invalid choice"),
        (["transfer", "set", "15550001", "--busy", "pstn:123", "--timeout", "999"], "--timeout"),
        (["transfer", "show", "abc"], "not a valid DID"),
    ],
)
def test_refused_input_exits_2_with_one_line_and_changes_nothing(
    world: Run, repo_url: str, argv: list[str], fragment: str
) -> None:
    """Every refused command names the problem on stderr, exits 2 and leaves every table as it was."""
    before = dump(repo_url)
    result = world(*argv)
    assert result.code == 2
    assert fragment in result.err
    assert "Traceback" not in result.err
    if "invalid" not in fragment and "not allowed" not in fragment:  # argparse prints usage first
        assert result.err.count("\n") == 1
        assert result.err.startswith("did-failover: error: ")
    assert dump(repo_url) == before


def test_import_is_all_or_nothing_and_names_every_bad_line(world: Run, repo_url: str, tmp_path: Path) -> None:
    """A CSV with bad rows changes nothing and reports each bad row by line; dry run changes nothing."""
    exported = tmp_path / "export.csv"
    assert ok(world("transfer", "export", str(exported))).out.startswith(
        "exported the transfer settings of 2"
    )
    good_row = "15550002,2001,endpoint:desk-2,,pstn:+4930777,,,15,did,on"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "did,account,primary,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
        f"{good_row}\n"
        "15550001,1001,pstn:+4930111,,pstn:1&2,,,30,keep,on\n"
        "15559999,,,,,,,30,keep,on\n"
        "15550001,,,,,,,0,keep,on\n"
        "15550002,,,,,,,30,keep,maybe\n"
        "15550001,,,,,,,²,keep,on\n"
        f"15550001,,,,,,,{'9' * 5000},keep,on\n"
    )
    before = dump(repo_url)
    result = world("transfer", "import", str(bad))
    assert result.code == 2
    lines = result.err.splitlines()
    assert [line.split(":")[2].strip() for line in lines[:-1]] == [f"line {n}" for n in range(3, 9)]
    assert "busy" in lines[0] and "DID 15559999 not found" in lines[1]
    # `²` passes str.isdigit and 5,000 digits pass int's limit no more: each a one-line refusal
    assert all("timeout: must be a whole number of seconds 1..300" in line for line in lines[4:6])
    assert len(lines[5]) < 200
    assert lines[-1] == "did-failover: error: nothing imported: 6 bad rows"
    assert dump(repo_url) == before

    good = tmp_path / "good.csv"
    good.write_text(exported.read_text().replace("15550002,2001,endpoint:desk-2,,,,,30,keep,on", good_row))
    assert "nothing changed" in ok(world("transfer", "import", str(good), "--dry-run")).out
    assert dump(repo_url) == before
    assert ok(world("transfer", "import", str(good))).out == "imported the transfer settings of 2 DIDs\n"
    shown = json.loads(ok(world("transfer", "show", "15550002", "--json")).out)
    assert (shown["busy"], shown["timeout"], shown["caller_id"], shown["status"]) == (
        "pstn:+4930777",
        15,
        "did",
        "on",
    )
    assert shown["updated_by"] == "cli:alice"
    reexported = tmp_path / "again.csv"
    ok(world("transfer", "export", str(reexported)))
    assert reexported.read_text() == good.read_text()


def test_import_refuses_an_edited_account_or_primary_instead_of_ignoring_it(
    world: Run, repo_url: str, tmp_path: Path
) -> None:
    """An export whose account or primary was changed is refused, naming the line and the column: import
    applies transfer settings only, and it must not say "imported" for an edit it did not make. The
    values with blanks around them are no change."""
    exported = tmp_path / "export.csv"
    ok(world("transfer", "export", str(exported)))
    text = exported.read_text()
    moved = text.replace("15550002,2001,", "15550002,3001,")
    rerouted = text.replace("15550001,1001,pstn:+4930111,", "15550001,1001,pstn:+4930222,")
    before = dump(repo_url)
    for edited, line, column in ((moved, 3, "account"), (rerouted, 2, "primary")):
        assert edited != text
        (tmp_path / "edited.csv").write_text(edited)
        result = world("transfer", "import", str(tmp_path / "edited.csv"))
        assert result.code == 2
        first = result.err.splitlines()[0]
        assert first.startswith(f"did-failover: error: line {line}: {column}: import does not "), first
        assert "'did set'" in first
        assert dump(repo_url) == before
    same = text.replace("15550001,1001,pstn:+4930111,", "15550001, 1001 , pstn:+4930111 ,")
    (tmp_path / "same.csv").write_text(same)
    assert ok(world("transfer", "import", str(tmp_path / "same.csv"))).out.startswith("imported")


def test_import_reads_a_file_a_spreadsheet_saved_with_semicolons(world: Run, tmp_path: Path) -> None:
    """A CSV separated by semicolons (a spreadsheet's CSV where the decimal mark is a comma), with a
    byte-order mark, is read as it is; the forward list's commas stay inside its cell."""
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes(
        "\ufeffdid;account;primary;always;busy;no_answer;unavailable;timeout;caller_id;status\r\n"
        "15550001;1001;pstn:+4930111;;pstn:+4930999/20,voicemail:100;;;25;keep;on\r\n".encode()
    )
    assert ok(world("transfer", "import", str(csv_file))).out == "imported the transfer settings of 1 DIDs\n"
    shown = json.loads(ok(world("transfer", "show", "15550001", "--json")).out)
    assert (shown["busy"], shown["timeout"]) == ("pstn:+4930999/20,voicemail:100", 25)


def test_import_by_a_reseller_refuses_other_resellers_dids(world: Run, repo_url: str, tmp_path: Path) -> None:
    """A reseller importing a row for someone else's DID gets "not found" for that line and no change."""
    csv_file = tmp_path / "mixed.csv"
    csv_file.write_text(
        "did,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
        "15550002,,pstn:+4930777,,,30,keep,on\n"
        "15550001,,,,,30,keep,off\n"
    )
    before = dump(repo_url)
    result = world("transfer", "import", str(csv_file), "--as-reseller", "200")
    assert result.code == 2
    assert "line 3: DID 15550001 not found" in result.err
    assert dump(repo_url) == before
    result = world("transfer", "import", str(csv_file), "--as-reseller", "100", "--dry-run")
    assert (result.code, result.err.splitlines()[0]) == (
        2,
        "did-failover: error: line 2: DID 15550002 not found; give its account and primary to create it",
    )


def test_import_creates_the_dids_it_does_not_find_from_their_account_and_primary(
    world: Run, repo_url: str, tmp_path: Path
) -> None:
    """A row for a DID that does not exist, with a customer account the importer sees and a primary,
    creates it with its transfer settings; a foreign or reseller account, a number another tenant
    holds, a bad primary or a row without account or primary is named by its line, and nothing is
    created or changed."""
    header = "did,account,primary,always,busy,no_answer,unavailable,timeout,caller_id,status\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header
        + "15557000001,1001,endpoint:desk-7,,pstn:+4930777,,,30,keep,on\n"
        + "15557000002,2001,endpoint:desk-8,,,,,30,keep,on\n"
        + "15557000003,100,endpoint:desk-9,,,,,30,keep,on\n"
        + "15550002,1001,endpoint:desk-2,,,,,30,keep,on\n"
        + "15557000004,1001,pstn:12&3,,,,,30,keep,on\n"
        + "15557000005,1001,,,,,,30,keep,on\n"
    )
    before = dump(repo_url)
    result = world("transfer", "import", str(bad), "--as-reseller", "100")
    assert result.code == 2
    lines = [line.removeprefix("did-failover: error: ") for line in result.err.splitlines()]
    assert lines[0] == "line 3: account: account 2001 not found"
    assert lines[1] == "line 4: account: account 100 not found"  # as for `did add`: not one of its customers
    assert lines[2] == "line 5: DID 15550002 already exists"  # another reseller's: its owner unnamed
    assert lines[3].startswith("line 6: primary: ")
    assert lines[4] == "line 7: DID 15557000005 not found; give its account and primary to create it"
    assert lines[-1] == "nothing imported: 5 bad rows"
    assert dump(repo_url) == before
    taken = tmp_path / "taken.csv"
    taken.write_text(
        header + "15557000001,1001,endpoint:desk-7,,,,,30,keep,on\n15550002,1001,endpoint:x,,,,,30,keep,on\n"
    )
    result = world("transfer", "import", str(taken), "--as-reseller", "100")
    assert "line 3: DID 15550002 already exists" in result.err and dump(repo_url) == before
    reseller_account = tmp_path / "reseller.csv"
    reseller_account.write_text(header + "15557000003,100,endpoint:desk-9,,,,,30,keep,on\n")
    result = world("transfer", "import", str(reseller_account))
    assert "line 2: account: account 100 is a reseller account; DIDs belong to customers" in result.err
    assert dump(repo_url) == before

    good = tmp_path / "good.csv"
    good.write_text(
        header
        + "15557000001,1001,endpoint:desk-7,,pstn:+4930777,,,30,keep,on\n"
        + "+1 555 700 0002,1001,sip:carol@pbx.example.com,,,,,25,did,off\n"
        + "15550001,1001,pstn:+4930111,,pstn:+4930999,,,30,keep,on\n"
    )
    dry = ok(world("transfer", "import", str(good), "--as-reseller", "100", "--dry-run")).out
    assert dry == "dry run: 2 new DIDs and the transfer settings of 3 DIDs are valid; nothing changed\n"
    assert dump(repo_url) == before
    done = ok(world("transfer", "import", str(good), "--as-reseller", "100")).out
    assert done == "created 2 DIDs and imported the transfer settings of 3 DIDs\n"
    made = json.loads(ok(world("did", "list", "--json", "--as-reseller", "100")).out)
    assert {(d["did"], d["account"], d["primary"]) for d in made} >= {
        ("15557000001", "1001", "endpoint:desk-7"),
        ("15557000002", "1001", "sip:carol@pbx.example.com"),
    }
    shown = json.loads(ok(world("transfer", "show", "15557000002", "--json")).out)
    assert (shown["timeout"], shown["caller_id"], shown["status"]) == (25, "did", "off")
    changes = execute(
        repo_url, "SELECT action, actor FROM change_log WHERE did = ? AND field = 'number'", ("15557000001",)
    )
    assert [action for action, _ in changes] == ["add"] and changes[0][1].startswith("cli:")


def test_import_refuses_a_wrong_header(world: Run, repo_url: str, tmp_path: Path) -> None:
    """An unknown or missing column is reported on line 1."""
    csv_file = tmp_path / "header.csv"
    csv_file.write_text("did,bussy,timeout\n15550001,pstn:123,30\n")
    result = world("transfer", "import", str(csv_file))
    assert result.code == 2
    assert "line 1: the header must be" in result.err
    assert "unknown: bussy" in result.err


def test_db_init_refuses_a_newer_schema(world: Run, repo_url: str) -> None:
    """A database with a newer schema version is refused with exit 1 and left untouched."""
    execute(repo_url, "UPDATE schema_version SET version = 99")
    before = dump(repo_url)
    result = world("db", "init")
    assert result.code == 1
    assert "schema version 99, newer" in result.err
    assert dump(repo_url) == before


def test_commands_before_db_init_say_to_run_it_and_name_the_database(cli: Run, repo_url: str) -> None:
    """Before `db init` every command names the database it looked at and says to run `db init` (exit
    1); none of them, `check` included, creates an SQLite file: only `db init` does."""
    if repo_url.startswith("sqlite:///"):
        path = Path(repo_url.removeprefix("sqlite:///"))
        expected = f"SQLite database {path} does not exist: run 'did-failover db init' to create it"
    else:
        name = repo_url.rpartition("/")[2]
        expected = (
            f"MySQL database {name} on 127.0.0.1:3306 has no did-failover schema: run 'did-failover db init'"
        )
    for argv in (["did", "list"], ["transfer", "list"], ["calls"], ["user", "list"]):
        result = cli(*argv)
        assert (result.code, result.err) == (1, f"did-failover: error: {expected}\n"), argv
    assert cli("check").code == 1
    if repo_url.startswith("sqlite:///"):
        assert not path.exists()
    ok(cli("db", "init"))
    assert ok(cli("did", "list")).code == 0


@pytest.mark.parametrize(
    "url",
    ["mysql://root@127.0.0.1:1/didfo", "sqlite:////nonexistent-folder/did-failover.db"],
)
def test_unreachable_database_exits_1_without_traceback(url: str) -> None:
    """The installed console script reports an unreachable database in one line, exit code 1."""
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": url}
    proc = subprocess.run([str(CLI), "did", "list"], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.startswith("did-failover: error: ")
    assert proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_console_script_refuses_a_dangerous_destination(repo_url: str) -> None:
    """The installed console script refuses dial-string injection with exit 2 and no traceback."""
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": repo_url}
    subprocess.run([str(CLI), "db", "init"], env=env, check=True, capture_output=True, timeout=30)
    proc = subprocess.run(
        [str(CLI), "did", "add", "15550001", "--account", "1", "--primary", "pstn:123&Local/evil"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "did-failover: error: --primary: 'pstn:123&Local/evil' is not a valid PSTN number:"
        " 3 to 20 digits with an optional leading +\n"
    )


def test_database_url_comes_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--config FILE.toml` sets database_url when the environment does not; a bad value exits 2."""
    monkeypatch.delenv("DID_FAILOVER_DATABASE_URL", raising=False)
    config = tmp_path / "did-failover.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path}/from-config.db"\n')
    assert main(["--config", str(config), "db", "init"]) == 0
    assert (tmp_path / "from-config.db").is_file()
    config.write_text('database_url = "postgres://nope"\n')
    capsys.readouterr()
    assert main(["--config", str(config), "did", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("did-failover: error: setting DID_FAILOVER_")
    assert "database_url" in err.lower()
    assert err.count("\n") == 1


def test_a_config_file_that_is_not_valid_toml_names_the_file_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key given twice (a block pasted below the shipped file) names the key and its line; other
    TOML errors name the file. One line each, exit 2."""
    monkeypatch.setenv("DID_FAILOVER_DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite")
    config = tmp_path / "config.toml"
    config.write_text('listen = "127.0.0.1:4573"\nlog_level = "info"\nlisten = "0.0.0.0:4573"\n')
    capsys.readouterr()
    assert main(["--config", str(config), "did", "list"]) == 2
    assert capsys.readouterr().err == (
        f"did-failover: error: config file {config}: line 3: listen is set twice (keep one line for it)\n"
    )
    config.write_text("listen = \n")
    assert main(["--config", str(config), "did", "list"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"did-failover: error: config file {config}: not valid TOML: ")
        and err.count("\n") == 1
    )


def _changes(run: Run, *args: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(ok(run("changes", "--json", "--limit", "1000", *args)).out)
    return rows


def _fields(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    keys = ("actor", "action", "subject", "account", "did", "field", "old", "new")
    return [tuple(row[key] for key in keys) for row in reversed(rows)]


def test_changes_lists_what_each_command_changed_field_by_field(world: Run, tmp_path: Path) -> None:
    """account set, did set, transfer set, import and did remove: one row per field they changed."""
    top = _changes(world)[0]["id"]
    assert isinstance(top, int)
    ok(world("account", "set", "1001", "--name", "Customer A-1"))
    ok(world("did", "set", "15550001", "--ring-timeout", "40"))
    ok(world("transfer", "set", "15550001", "--busy", "none", "--no-answer", "pstn:+4930555"))
    exported = tmp_path / "export.csv"
    ok(world("transfer", "export", str(exported)))
    edited = exported.read_text().replace(
        "15550002,2001,endpoint:desk-2,,,,,30,keep,on", "15550002,2001,endpoint:desk-2,,,,,25,keep,on"
    )
    (tmp_path / "edited.csv").write_text(edited)
    ok(world("transfer", "import", str(tmp_path / "edited.csv")))  # one field of one DID changed
    ok(world("did", "remove", "15550002"))
    later = [row for row in _changes(world) if isinstance(row["id"], int) and row["id"] > top]
    a = "cli:alice"
    assert _fields(later) == [
        (a, "set", "account", "1001", None, "name", "Customer A1", "Customer A-1"),
        (a, "set", "did", "1001", "15550001", "ring_timeout", "30", "40"),
        (a, "set", "transfer", "1001", "15550001", "busy", "pstn:+4930999", None),
        (a, "set", "transfer", "1001", "15550001", "no_answer", None, "pstn:+4930555"),
        (a, "add", "transfer", "2001", "15550002", "transfer", None, "true"),
        (a, "add", "transfer", "2001", "15550002", "timeout", None, "25"),
        (a, "add", "transfer", "2001", "15550002", "caller_id", None, "keep"),
        (a, "remove", "transfer", "2001", "15550002", "transfer", "true", None),
        (a, "remove", "transfer", "2001", "15550002", "timeout", "25", None),
        (a, "remove", "transfer", "2001", "15550002", "caller_id", "keep", None),
        (a, "remove", "did", "2001", "15550002", "number", "15550002", None),
        (a, "remove", "did", "2001", "15550002", "account", "2001", None),
        (a, "remove", "did", "2001", "15550002", "active", "true", None),
        (a, "remove", "did", "2001", "15550002", "primary", "endpoint:desk-2", None),
        (a, "remove", "did", "2001", "15550002", "ring_timeout", "30", None),
        (a, "remove", "did", "2001", "15550002", "max_channels", "0", None),
    ]
    assert json.loads(ok(world("transfer", "show", "15550001", "--json")).out)["updated_by"] == a


def test_changes_table_filters_and_refused_filters(world: Run) -> None:
    """The table, newest first; --did/--account/--actor/--since/--limit; bad filters exit 2."""
    ok(world("did", "set", "15550001", "--max-channels", "3"))
    lines = ok(world("changes", "--did", "+15550001", "--limit", "1")).out.splitlines()
    assert lines[0].split() == [
        "CHANGED",
        "(UTC)",
        "ACTOR",
        "ACTION",
        "ACCOUNT",
        "DID/USER",
        "FIELD",
        "FROM",
        "TO",
    ]
    assert lines[1].split()[2:] == ["cli:alice", "set", "1001", "15550001", "did.max_channels", "0", "3"]
    assert len(lines) == 2
    assert {row["account"] for row in _changes(world, "--account", "2001")} == {"2001"}
    assert _changes(world, "--actor", "sql") == []
    assert len(_changes(world, "--since", "1h")) == len(_changes(world))
    assert _changes(world, "--since", "2099-01-01") == []
    for argv, fragment in (
        (["--limit", "0"], "--limit: 0 is not a number of changes"),
        (["--since", "yesterday"], "--since"),
        (["--did", "abc"], "--did"),
        (["--account", "9999"], "account 9999 not found"),
    ):
        result = world("changes", *argv)
        assert (result.code, result.err.count("\n")) == (2, 1), result
        assert fragment in result.err


def test_a_reseller_sees_only_its_own_customers_changes(world: Run) -> None:
    """--as-reseller: its customers' rows only; another reseller's account is not found, and another
    reseller's DID has no changes to show."""
    ok(world("transfer", "set", "15550002", "--busy", "pstn:+4930888", "--as-reseller", "200"))
    mine = _changes(world, "--as-reseller", "100")
    assert mine and {row["account"] for row in mine} == {"1001"}
    assert {row["account"] for row in _changes(world, "--as-reseller", "200")} == {"2001"}
    assert _changes(world, "--as-reseller", "100", "--did", "15550002") == []
    refused = world("changes", "--as-reseller", "100", "--account", "2001")
    assert (refused.code, refused.err) == (2, "did-failover: error: account 2001 not found\n")


def test_only_on_and_off_change_the_transfer_switch_and_an_off_one_is_said(world: Run) -> None:
    """A DID never configured lists its switch as on (it forwards nothing until it has a list); no
    `transfer set` without --on or --off changes the switch, and one that leaves it off says so and
    what turns it on, for the DID's switch and for its account's."""
    listed = {r["did"]: r for r in json.loads(ok(world("transfer", "list", "--json")).out)}
    assert listed["15550002"]["status"] == "on"
    result = ok(world("transfer", "set", "15550002", "--timeout", "20", "--as-reseller", "200"))
    assert result.out == "transfer of DID 15550002 updated: on\n"
    ok(world("transfer", "set", "15550001", "--off"))
    result = ok(world("transfer", "set", "15550001", "--busy", "pstn:+4930888"))
    assert result.out.splitlines() == [
        "transfer of DID 15550001 updated: off",
        "note: transfer of DID 15550001 is off, so calls are not forwarded:"
        " 'did-failover transfer set 15550001 --on' turns it on",
    ]
    assert json.loads(ok(world("transfer", "show", "15550001", "--json")).out)["transfer"] == "off"
    ok(world("transfer", "set", "15550001", "--on"))
    ok(world("account", "set", "1001", "--transfer", "off"))
    result = ok(world("transfer", "set", "15550001", "--busy", "pstn:+4930777"))
    assert result.out.splitlines()[1] == (
        "note: transfer of account 1001 is off, so none of its DIDs forwards:"
        " 'did-failover account set 1001 --transfer on' turns it on"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LISTEN", "18601", "expected HOST:PORT, got '18601': a port alone (write 127.0.0.1:18601)"),
        ("WEB_LISTEN", "18604", "expected HOST:PORT, got '18604': a port alone (write 127.0.0.1:18604)"),
        ("METRICS_LISTEN", "9", "expected HOST:PORT, got '9': a port alone (write 127.0.0.1:9)"),
        (
            "LISTEN",
            "local host:4573",
            "expected HOST:PORT, got 'local host:4573': 'local host' is not an IP address or a host name",
        ),
        ("WEB_LISTEN", "127.0.0.1:http", "expected HOST:PORT, got '127.0.0.1:http'"),
    ],
)
def test_a_host_port_setting_that_is_not_one_is_refused_by_every_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    expected: str,
) -> None:
    """A port alone, a host with a blank, a port that is a name: one line naming the variable, exit 2,
    from a command and from `check` alike (which used to call it valid and probe agi://18601:4573)."""
    monkeypatch.setenv("DID_FAILOVER_DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite")
    monkeypatch.setenv(f"DID_FAILOVER_{variable}", value)
    capsys.readouterr()
    assert main(["did", "list"]) == 2
    assert capsys.readouterr().err == f"did-failover: error: setting DID_FAILOVER_{variable}: {expected}\n"
    assert main(["check"]) == 2
    assert f"FAIL  settings: setting DID_FAILOVER_{variable}: {expected}" in capsys.readouterr().out


def test_an_unknown_key_of_the_config_file_names_the_file_its_line_and_the_closest_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not pydantic's "Extra inputs are not permitted" under an environment variable's name."""
    monkeypatch.setenv("DID_FAILOVER_DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite")
    config = tmp_path / "config.toml"
    config.write_text('listen = "127.0.0.1:4573"\n\nweb_listn = "127.0.0.1:8573"\n')
    capsys.readouterr()
    assert main(["--config", str(config), "did", "list"]) == 2
    assert capsys.readouterr().err == (
        f"did-failover: error: config file {config}: line 3: unknown setting web_listn;"
        " did you mean web_listen?\n"
    )
    config.write_text("colour = 'blue'\n")
    assert main(["--config", str(config), "did", "list"]) == 2
    assert capsys.readouterr().err == (
        f"did-failover: error: config file {config}: line 1: unknown setting colour"
        " (docs/settings.md lists the settings)\n"
    )


def test_phone_numbers_typed_with_blanks_dots_or_dashes_are_taken_and_shown_normalised(world: Run) -> None:
    """`06 12 34 56 78`, `+49 (30) 123-456`, `555.123.4567`: a DID, a primary and each pstn: step of a
    forward list are stored and shown as digits; other kinds, and separators inside anything else,
    are refused as before."""
    ok(world("did", "add", "+1 555-900-0001", "--account", "1001", "--primary", "pstn:+49 (30) 123-456"))
    ok(world("transfer", "set", "1 555 900 0001", "--busy", "pstn:06 12 34 56 78/20,pstn:555.123.4567"))
    shown = json.loads(ok(world("transfer", "show", "15559000001", "--json")).out)
    assert (shown["did"], shown["primary"], shown["busy"]) == (
        "15559000001",
        "pstn:+4930123456",
        "pstn:0612345678/20,pstn:5551234567",
    )
    for argv in (
        ["transfer", "set", "15559000001", "--busy", "pstn:06 12 34 56 7x"],
        ["transfer", "set", "15559000001", "--busy", "endpoint:desk 2"],
        ["did", "set", "15559000001", "--primary", "pstn:06 12&34"],
    ):
        assert world(*argv).code == 2, argv


def test_a_mistyped_option_gets_the_commands_usage_and_the_closest_option(cli: Run) -> None:
    """`--buzy` prints `transfer set`'s usage, not the top level's, and names --busy; exit 2."""
    result = cli("transfer", "set", "15550001", "--buzy", "pstn:+4930999")
    assert result.code == 2
    assert result.err.startswith("usage: did-failover transfer set ")
    assert result.err.splitlines()[-1] == (
        "did-failover transfer set: error: unrecognized arguments: --buzy pstn:+4930999"
        " (did you mean --busy?)"
    )
    result = cli("did", "list", "--acount", "1001")
    assert result.err.splitlines()[-1].endswith("(did you mean --account?)")
    assert result.err.startswith("usage: did-failover did list ")


def test_transfer_list_shows_a_list_by_its_first_step_and_after_hours_and_wide_shows_all(world: Run) -> None:
    """A forward list of three takes one cell (`FIRST (+2)`); the after-hours list has its column;
    `--wide` prints every step."""
    ok(
        world(
            "transfer",
            "set",
            "15550001",
            "--busy",
            "pstn:+4930111/20,sip:office@pbx.example.com,voicemail:100",
        )
    )
    ok(
        world(
            "schedule",
            "set",
            "15550001",
            "--zone",
            "UTC",
            "--open",
            "mon-fri 09:00-18:00",
            "--after-hours",
            "pstn:+4930222",
        )
    )
    row = next(line for line in ok(world("transfer", "list")).out.splitlines() if line.startswith("15550001"))
    assert "pstn:+4930111/20 (+2)" in row and "pstn:+4930222" in row and "voicemail:100" not in row
    wide = next(
        line
        for line in ok(world("transfer", "list", "--wide")).out.splitlines()
        if line.startswith("15550001")
    )
    assert "pstn:+4930111/20,sip:office@pbx.example.com,voicemail:100" in wide


def test_every_option_of_every_command_says_what_it_does_and_its_default() -> None:
    """`--help` of each command explains each option, and names the default of one that has one."""
    import argparse

    from did_failover.main import build_parser

    def leaves(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return [(path, parser)]
        return [
            leaf for name, sub in subs[0].choices.items() for leaf in leaves(sub, f"{path} {name}".strip())
        ]

    unexplained = []
    for path, parser in leaves(build_parser(), ""):
        for action in parser._actions:
            if (
                not action.option_strings
                or action.dest == "help"
                or isinstance(action, argparse._VersionAction)
            ):
                continue
            text = action.help or ""
            if not text or (action.default not in (None, False, []) and "default" not in text):
                unexplained.append(f"{path} {action.option_strings[0]}")
    assert unexplained == []
