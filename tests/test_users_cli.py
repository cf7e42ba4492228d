"""`did-failover user ...`: logins for the web page and the API, on SQLite and on the real MariaDB."""

from __future__ import annotations

import asyncio
import json

import pytest

from did_failover.storage import open_repository
from tests.support.db import dump, execute
from tests.support.incli import Run, in_process_cli, ok

GOOD = "correct horse battery staple"


@pytest.fixture
def cli(repo_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `did-failover ARGS...` in-process against the test database (`stdin=` feeds it)."""
    return in_process_cli(repo_url, monkeypatch, capsys)


@pytest.fixture
def world(cli: Run) -> Run:
    """Reseller 100 with customer 1001, reseller 200 with customer 2001."""
    ok(cli("db", "init"))
    ok(cli("account", "add", "100", "--name", "Reseller A", "--type", "reseller"))
    ok(cli("account", "add", "200", "--name", "Reseller B", "--type", "reseller"))
    ok(cli("account", "add", "1001", "--name", "Customer A1", "--type", "customer", "--reseller", "100"))
    ok(cli("account", "add", "2001", "--name", "Customer B1", "--type", "customer", "--reseller", "200"))
    return cli


def test_users_of_each_role_are_added_listed_and_recorded_without_their_password(
    world: Run, repo_url: str
) -> None:
    """Users of each role; argon2id hashes; the change log says only that a password was set."""
    assert ok(world("user", "add", "root", "--role", "admin", "--password-stdin", stdin=GOOD + "\n")).out == (
        "user root added: admin\n"
    )
    ok(
        world(
            "user", "add", "res-a", "--role", "reseller", "--account", "100", "--password-stdin", stdin=GOOD
        )
    )
    ok(
        world(
            "user",
            "add",
            "cust.a1",
            "--role",
            "customer",
            "--account",
            "1001",
            "--password-stdin",
            stdin=GOOD,
        )
    )
    listed = json.loads(ok(world("user", "list", "--json")).out)
    assert [(u["username"], u["role"], u["account"], u["status"]) for u in listed] == [
        ("cust.a1", "customer", "1001", "active"),
        ("res-a", "reseller", "100", "active"),
        ("root", "admin", None, "active"),
    ]
    hashes = [row[0] for row in execute(repo_url, "SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2id$") for h in hashes)
    log = json.dumps(json.loads(ok(world("changes", "--json", "--limit", "1000")).out))
    assert not any(h in log for h in hashes) and GOOD not in log
    password_rows = [c for c in json.loads(ok(world("changes", "--json")).out) if c["field"] == "password"]
    assert {(c["username"], c["new"], c["actor"]) for c in password_rows} >= {
        ("cust.a1", "********", "cli:alice")
    }


@pytest.mark.parametrize(
    ("argv", "stdin", "fragment"),
    [
        (
            ["user", "add", "x", "--role", "admin", "--password-stdin"],
            "short-pass\n",
            "at least 12 characters",
        ),
        (["user", "add", "x", "--role", "admin", "--password-stdin"], "password1234\n", "10,000 most common"),
        (["user", "add", "x", "--role", "admin", "--password-stdin"], "PassWord1234\n", "10,000 most common"),
        (["user", "add", "x", "--role", "admin", "--password-stdin"], "", "nothing on stdin"),
        (["user", "add", "x", "--role", "admin"], GOOD, "give --password-stdin"),
        (["user", "add", "x y", "--role", "admin", "--password-stdin"], GOOD, "not a valid username"),
        (
            ["user", "add", "x", "--role", "admin", "--account", "100", "--password-stdin"],
            GOOD,
            "belongs to no",
        ),
        (["user", "add", "x", "--role", "reseller", "--password-stdin"], GOOD, "needs the reseller account"),
        (
            ["user", "add", "x", "--role", "customer", "--account", "100", "--password-stdin"],
            GOOD,
            "is a reseller",
        ),
        (
            ["user", "add", "x", "--role", "customer", "--account", "9999", "--password-stdin"],
            GOOD,
            "not found",
        ),
        (["user", "set", "nobody", "--inactive"], "", "user nobody not found"),
        (["user", "remove", "nobody"], "", "user nobody not found"),
        (
            ["user", "add", "x", "--role", "admin", "--as-reseller", "100", "--password-stdin"],
            GOOD,
            "customer users only",
        ),
        (
            [
                "user",
                "add",
                "x",
                "--role",
                "customer",
                "--account",
                "2001",
                "--as-reseller",
                "100",
                "--password-stdin",
            ],
            GOOD,
            "account 2001 not found",
        ),
    ],
)
def test_refused_user_commands_exit_2_with_one_line_and_change_nothing(
    world: Run, repo_url: str, argv: list[str], stdin: str, fragment: str
) -> None:
    """Every refusal names the problem in one line and leaves every table, the change log too, as it was."""
    before = dump(repo_url)
    result = world(*argv, stdin=stdin)
    assert (result.code, result.err.count("\n")) == (2, 1), result
    assert fragment in result.err and result.err.startswith("did-failover: error: ")
    assert dump(repo_url) == before


def test_deactivating_changing_the_password_or_removing_a_user_ends_its_sessions(
    world: Run, repo_url: str
) -> None:
    """Each of the three leaves no session of that user; another user's session stays."""
    for name in ("carol", "dave"):
        ok(
            world(
                "user", "add", name, "--role", "customer", "--account", "1001", "--password-stdin", stdin=GOOD
            )
        )

    def sessions(*work: tuple[str, str]) -> list[bool]:
        async def go() -> list[bool]:
            async with open_repository(repo_url, 5.0) as repo:
                for key, name in work:
                    await repo.add_session(key, name, "csrf")
                return [await repo.get_session(key) is not None for key in (CAROL, DAVE)]

        return asyncio.run(go())

    for argv, stdin in (
        (["user", "set", "carol", "--inactive"], ""),
        (["user", "set", "carol", "--password-stdin"], "another good passphrase"),
        (["user", "remove", "carol"], ""),
    ):
        execute(repo_url, "DELETE FROM web_sessions")
        assert sessions((CAROL, "carol"), (DAVE, "dave")) == [True, True]
        ok(world(*argv, stdin=stdin))
        assert sessions() == [False, True], argv
    assert execute(repo_url, "SELECT username FROM users") == [("dave",)]


CAROL, DAVE = "c" * 64, "d" * 64


def test_a_reseller_manages_only_its_own_customers_users(world: Run) -> None:
    """--as-reseller: adds users of its customers, lists only its own, cannot touch another's."""
    ok(
        world(
            "user",
            "add",
            "a1",
            "--role",
            "customer",
            "--account",
            "1001",
            "--as-reseller",
            "100",
            "--password-stdin",
            stdin=GOOD,
        )
    )
    ok(world("user", "add", "b1", "--role", "customer", "--account", "2001", "--password-stdin", stdin=GOOD))
    assert [
        u["username"] for u in json.loads(ok(world("user", "list", "--json", "--as-reseller", "100")).out)
    ] == ["a1"]
    refused = world("user", "set", "b1", "--inactive", "--as-reseller", "100")
    assert (refused.code, refused.err) == (2, "did-failover: error: user b1 not found\n")
    ok(world("user", "set", "a1", "--inactive", "--as-reseller", "100"))
