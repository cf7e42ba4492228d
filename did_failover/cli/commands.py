"""The management commands (db, account, did, transfer, calls, changes): each a thin call into admin/."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable

from did_failover.admin.service import Scope, Service
from did_failover.admin.views import (
    account_dict,
    active_word,
    call_dict,
    change_dict,
    did_dict,
    on_off,
)
from did_failover.cli.progress import progress
from did_failover.cli.render import clock, print_json, table
from did_failover.console import EXIT_FAILED, EXIT_INPUT, PERSON_TIMEOUT, error
from did_failover.errors import InputError, InvalidDestination, Namer, StorageUnavailable
from did_failover.numbers import strip_plus
from did_failover.settings import load_settings_or_report
from did_failover.storage import open_repository

Work = Callable[[Service, Scope, argparse.Namespace], Awaitable[None]]


def flags_of(parser: argparse.ArgumentParser) -> Namer:
    """How this command names a refused field: its option (`--busy`, `--on/--off`) or argument
    (`DID`), and the field's own name where the command has neither (`schedule`, `password`)."""
    names: dict[str, list[str]] = {}
    for action in parser._actions:
        shown = max(action.option_strings, key=len) if action.option_strings else str(action.metavar or "")
        names.setdefault(action.dest, []).append(shown or action.dest.upper())

    def name(field: str, item: int | None) -> str:
        words = "/".join(names.get(field, [field]))
        return f"{words} item {item}" if item else words

    return name


def run(args: argparse.Namespace, work: Work, parser: argparse.ArgumentParser | None = None) -> int:
    """Load settings, open the repository, run `work` and map errors to exit codes (2 input, 1 DB);
    a refusal names its field as `parser`, the command's own, spells it."""
    settings = load_settings_or_report(args.config)
    if settings is None:
        return EXIT_INPUT
    scope = Scope(args.as_reseller, actor=cli_actor())

    async def main() -> None:
        repo = open_repository(settings.database_url, max(settings.db_timeout, PERSON_TIMEOUT))
        try:
            service = Service(repo, settings.max_ring_total, settings.webhook_allow, settings.webhook_timeout)
            await work(service, scope, args)
        finally:
            await repo.close()

    try:
        asyncio.run(main())
    except (InputError, InvalidDestination) as exc:
        error(exc.words(flags_of(parser)) if parser is not None else str(exc))
        return EXIT_INPUT
    except StorageUnavailable as exc:
        error(str(exc))
        return EXIT_FAILED
    return 0


def cli_actor() -> str:
    """`cli:USER` for the change log: the person behind sudo when there is one."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container, say)
        user = str(os.getuid())
    return f"cli:{user}"


async def db_init(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`db init`: create the schema."""
    if scope.reseller is not None:
        raise InputError("only the admin creates the schema", "as_reseller")
    async with progress("creating the schema"):
        version = await service.init_db()
    print(f"database schema version {version} ready")


async def account_add(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`account add`."""
    a = await service.add_account(scope, args.number, args.name, args.type, args.reseller)
    owner = f" of reseller {a.reseller}" if a.reseller else ""
    print(f"account {a.number} added: {a.type}{owner}")


async def account_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`account set`."""
    transfer = None if args.transfer is None else args.transfer == "on"
    a = await service.set_account(scope, args.number, name=args.name, active=args.active, transfer=transfer)
    print(f"account {a.number} updated: {active_word(a.active)}, transfer {on_off(a.transfer_enabled)}")


async def account_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`account list`."""
    accounts = await service.list_accounts(scope)
    if args.json:
        print_json([account_dict(a) for a in accounts])
        return
    headers = ["NUMBER", "NAME", "TYPE", "RESELLER", "STATUS", "TRANSFER"]
    rows = [
        [a.number, a.name, a.type, a.reseller or "-", active_word(a.active), on_off(a.transfer_enabled)]
        for a in accounts
    ]
    print(table(headers, rows))


async def did_add(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`did add`."""
    d = await service.add_did(
        scope, args.did, args.account, args.primary, args.ring_timeout, args.max_channels
    )
    print(f"DID {d.number} added to account {d.account}: primary {d.primary}")


async def did_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`did set`."""
    d = await service.set_did(
        scope,
        args.did,
        account=args.account,
        primary=args.primary,
        ring_timeout=args.ring_timeout,
        max_channels=args.max_channels,
        active=args.active,
    )
    print(f"DID {d.number} updated")


async def did_remove(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`did remove`."""
    await service.remove_did(scope, args.did)
    number = strip_plus(args.did)
    print(
        f"DID {number} removed with its transfer settings; its call history and its changes stay"
        f" ('did-failover calls --did {number}', 'did-failover changes --did {number}')"
    )


async def did_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`did list`."""
    dids = await service.list_dids(scope, args.account)
    if args.json:
        print_json([did_dict(d) for d in dids])
        return
    headers = ["DID", "ACCOUNT", "DID TYPE", "PRIMARY", "RING TIMEOUT", "MAX CHANNELS", "STATUS"]
    rows = [
        [
            d.number,
            d.account,
            d.primary.partition(":")[0],
            d.primary,
            str(d.ring_timeout),
            str(d.max_channels) if d.max_channels else "unlimited",
            active_word(d.active),
        ]
        for d in dids
    ]
    print(table(headers, rows))


async def calls(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`calls`: the call history."""
    calls = await service.list_calls(
        scope,
        did=args.did,
        account=args.account,
        since=args.since,
        limit=args.limit,
        every_owner=args.every_owner,
    )
    if args.json:
        print_json([call_dict(c) for c in calls])
        return
    headers = [
        "STARTED (UTC)", "DID", "ACCOUNT", "CALLER", "PRIMARY", "PRIMARY STATUS", "TRANSFER", "TO",
        "TRANSFER STATUS",
        "RESULT", "ANSWERED", "ENDED", "CAUSE", "BILLSEC",
    ]  # fmt: skip
    rows = [
        [
            clock(c.started_at),
            c.did,
            c.account_number or "-",
            c.caller or "-",
            c.primary_destination or "-",
            c.primary_dialstatus or "-",
            c.transfer_condition or "-",
            ">".join(c.forwarded_to()) or "-",
            c.transfer_dialstatus or "-",
            c.result,
            clock(c.answered_at)[11:] if c.answered_at else "-",
            clock(c.ended_at)[11:] if c.ended_at else "-",
            str(c.hangup_cause) if c.hangup_cause is not None else "-",
            str(c.billsec) if c.billsec is not None else "-",
        ]
        for c in calls
    ]
    print(table(headers, rows))


async def changes(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`changes`: the change log."""
    rows = await service.list_changes(
        scope, did=args.did, account=args.account, actor=args.actor, since=args.since, limit=args.limit
    )
    if args.json:
        print_json([change_dict(c) for c in rows])
        return
    headers = ["CHANGED (UTC)", "ACTOR", "ACTION", "ACCOUNT", "DID/USER", "FIELD", "FROM", "TO"]
    lines = [
        [
            clock(c.changed_at),
            c.actor,
            c.action,
            c.account or "-",
            c.did or c.username or "-",
            f"{c.subject}.{c.field}",
            "-" if c.old is None else c.old,
            "-" if c.new is None else c.new,
        ]
        for c in rows
    ]
    print(table(headers, lines))
