"""The management commands (db, account, did, transfer, calls): a thin argparse shell over admin/."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from did_failover.admin.service import Scope, Service, TransferView
from did_failover.cli.progress import progress
from did_failover.errors import EXIT_FAILED, EXIT_INPUT, InputError, InvalidDestination, StorageUnavailable
from did_failover.numbers import strip_plus
from did_failover.settings import load_settings_or_report
from did_failover.storage import AccountRow, CallRecord, DIDRow, open_repository

Work = Callable[[Service, Scope, argparse.Namespace], Awaitable[None]]

# Management commands are run by a person, who can wait longer than a ringing call.
MIN_MANAGE_TIMEOUT = 5.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the db, account, did and transfer command groups to the top-level parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--as-reseller",
        metavar="NUMBER",
        help="act as this reseller: only its customers' accounts and DIDs exist",
    )

    def leaf(group: Any, name: str, work: Work, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help)
        parser.set_defaults(func=lambda args: _run(args, work))
        return parser

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="COMMAND"
    )
    leaf(db, "init", _db_init, "create the schema (idempotent)")

    account = sub.add_parser("account", help="accounts: admin, reseller, customer").add_subparsers(
        dest="account_command", required=True, metavar="COMMAND"
    )
    p = leaf(account, "add", _account_add, "create an account")
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--name", required=True)
    p.add_argument("--type", required=True, choices=["admin", "reseller", "customer"])
    p.add_argument("--reseller", metavar="NUMBER", help="the reseller owning this customer")
    p = leaf(account, "set", _account_set, "change an account")
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--name")
    _on_off_flags(p, "active", "--active", "--inactive")
    p.add_argument("--transfer", choices=["on", "off"], help="account-level call-transfer switch")
    p = leaf(account, "list", _account_list, "list accounts")
    p.add_argument("--json", action="store_true")

    did = sub.add_parser("did", help="DIDs").add_subparsers(
        dest="did_command", required=True, metavar="COMMAND"
    )
    p = leaf(did, "add", _did_add, "add a DID to a customer account")
    p.add_argument("did", metavar="DID")
    p.add_argument("--account", required=True, metavar="NUMBER")
    p.add_argument("--primary", required=True, metavar="DEST")
    p.add_argument("--ring-timeout", type=int, default=30, metavar="SEC")
    p.add_argument("--max-channels", type=int, default=0, metavar="N", help="0 = unlimited")
    p = leaf(did, "set", _did_set, "change a DID")
    p.add_argument("did", metavar="DID")
    p.add_argument("--account", metavar="NUMBER")
    p.add_argument("--primary", metavar="DEST")
    p.add_argument("--ring-timeout", type=int, metavar="SEC")
    p.add_argument("--max-channels", type=int, metavar="N")
    _on_off_flags(p, "active", "--active", "--inactive")
    p = leaf(did, "remove", _did_remove, "remove a DID and its transfer settings")
    p.add_argument("did", metavar="DID")
    p = leaf(did, "list", _did_list, "list DIDs")
    p.add_argument("--account", metavar="NUMBER")
    p.add_argument("--json", action="store_true")

    transfer = sub.add_parser("transfer", help="call transfer per DID").add_subparsers(
        dest="transfer_command", required=True, metavar="COMMAND"
    )
    p = leaf(transfer, "set", _transfer_set, "change a DID's call-transfer settings")
    p.add_argument("did", metavar="DID")
    for condition in ("always", "busy", "no-answer", "unavailable"):
        p.add_argument(f"--{condition}", metavar="DEST|none")
    p.add_argument("--timeout", type=int, metavar="SEC", help="transfer-leg ring timeout")
    p.add_argument("--caller-id", choices=["keep", "did"])
    _on_off_flags(p, "enabled", "--on", "--off")
    p = leaf(transfer, "list", _transfer_list, 'the "DIDs Call Transfer" table')
    p.add_argument("--json", action="store_true")
    p = leaf(transfer, "show", _transfer_show, "one DID's call-transfer settings")
    p.add_argument("did", metavar="DID")
    p.add_argument("--json", action="store_true")
    p = leaf(transfer, "export", _transfer_export, "write the settings as CSV")
    p.add_argument("file", nargs="?", type=Path, metavar="FILE.csv", help="stdout when omitted")
    p = leaf(transfer, "import", _transfer_import, "apply a CSV export, all rows or none")
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument("--dry-run", action="store_true", help="check every row, change nothing")

    p = leaf(sub, "calls", _calls, "call history of routed calls, newest first")
    p.add_argument("--did", metavar="DID")
    p.add_argument("--account", metavar="NUMBER")
    p.add_argument("--since", metavar="WHEN", help="age (30m, 2h, 7d, 1w) or date/time (2026-11-27T08:00)")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N calls (default 50)")
    p.add_argument("--json", action="store_true")


def _on_off_flags(parser: argparse.ArgumentParser, dest: str, on: str, off: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(on, dest=dest, action="store_const", const=True, default=None)
    group.add_argument(off, dest=dest, action="store_const", const=False)


def _error(message: str) -> None:
    for line in message.splitlines() or [""]:
        print(f"did-failover: error: {line}", file=sys.stderr)


def _run(args: argparse.Namespace, work: Work) -> int:
    """Load settings, open the repository, run `work` and map errors to exit codes (2 input, 1 DB)."""
    settings = load_settings_or_report(args.config)
    if settings is None:
        return EXIT_INPUT
    scope = Scope(args.as_reseller)

    async def main() -> None:
        repo = open_repository(settings.database_url, max(settings.db_timeout, MIN_MANAGE_TIMEOUT))
        try:
            await work(Service(repo), scope, args)
        finally:
            await repo.close()

    try:
        asyncio.run(main())
    except (InputError, InvalidDestination) as exc:
        _error(str(exc))
        return EXIT_INPUT
    except StorageUnavailable as exc:
        _error(str(exc))
        return EXIT_FAILED
    return 0


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns separated by two spaces."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines)


def _json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _status(flag: bool) -> str:
    return "active" if flag else "inactive"


def _account_dict(a: AccountRow) -> dict[str, Any]:
    return {
        "number": a.number,
        "name": a.name,
        "type": a.type,
        "reseller": a.reseller,
        "status": _status(a.active),
        "transfer": _on(a.transfer_enabled),
        "created_at": a.created_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
    }


def _did_dict(d: DIDRow) -> dict[str, Any]:
    return {
        "did": d.number,
        "account": d.account,
        "did_type": d.primary.partition(":")[0],
        "primary": d.primary,
        "ring_timeout": d.ring_timeout,
        "max_channels": d.max_channels,
        "status": _status(d.active),
        "created_at": d.created_at.isoformat(),
        "updated_at": d.updated_at.isoformat(),
    }


async def _db_init(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    if scope.reseller is not None:
        raise InputError("--as-reseller: only the admin creates the schema")
    async with progress("creating the schema"):
        version = await service.init_db()
    print(f"database schema version {version} ready")


async def _account_add(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    a = await service.add_account(scope, args.number, args.name, args.type, args.reseller)
    owner = f" of reseller {a.reseller}" if a.reseller else ""
    print(f"account {a.number} added: {a.type}{owner}")


async def _account_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    transfer = None if args.transfer is None else args.transfer == "on"
    a = await service.set_account(scope, args.number, name=args.name, active=args.active, transfer=transfer)
    print(f"account {a.number} updated: {_status(a.active)}, transfer {_on(a.transfer_enabled)}")


async def _account_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    accounts = await service.list_accounts(scope)
    if args.json:
        _json([_account_dict(a) for a in accounts])
        return
    headers = ["NUMBER", "NAME", "TYPE", "RESELLER", "STATUS", "TRANSFER"]
    rows = [
        [a.number, a.name, a.type, a.reseller or "-", _status(a.active), _on(a.transfer_enabled)]
        for a in accounts
    ]
    print(_table(headers, rows))


async def _did_add(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    d = await service.add_did(
        scope, args.did, args.account, args.primary, args.ring_timeout, args.max_channels
    )
    print(f"DID {d.number} added to account {d.account}: primary {d.primary}")


async def _did_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
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


async def _did_remove(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    await service.remove_did(scope, args.did)
    print(f"DID {strip_plus(args.did)} removed")


async def _did_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    dids = await service.list_dids(scope, args.account)
    if args.json:
        _json([_did_dict(d) for d in dids])
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
            _status(d.active),
        ]
        for d in dids
    ]
    print(_table(headers, rows))


async def _transfer_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    v = await service.set_transfer(
        scope,
        args.did,
        always=args.always,
        busy=args.busy,
        no_answer=args.no_answer,
        unavailable=args.unavailable,
        timeout=args.timeout,
        caller_id=args.caller_id,
        enabled=args.enabled,
    )
    print(f"transfer of DID {v.did} updated: {v.status}")


async def _transfer_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    views = await service.list_transfers(scope)
    if args.json:
        _json([v.as_dict() for v in views])
        return
    headers = ["DID", "ACCOUNT", "DID TYPE", "PRIMARY", "BUSY", "NO ANSWER", "UNAVAILABLE", "ALWAYS"]
    rows = [
        [
            v.did,
            v.account,
            v.did_type,
            v.primary,
            v.busy or "-",
            v.no_answer or "-",
            v.unavailable or "-",
            v.always or "-",
            v.status,
        ]
        for v in views
    ]
    print("DIDs Call Transfer")
    print(_table([*headers, "TRANSFER"], rows))


def _show_lines(v: TransferView) -> list[tuple[str, str]]:
    return [
        ("DID", v.did),
        ("account", v.account),
        ("DID type", v.did_type),
        ("primary", v.primary),
        ("DID status", _status(v.did_active)),
        ("transfer", _on(v.enabled)),
        ("account transfer", _on(v.account_transfer)),
        ("status", v.status),
        ("busy", v.busy or "-"),
        ("no answer", v.no_answer or "-"),
        ("unavailable", v.unavailable or "-"),
        ("always", v.always or "-"),
        ("timeout", f"{v.timeout} s"),
        ("caller id", v.caller_id),
        ("updated by", v.updated_by or "-"),
        ("updated at", v.updated_at.isoformat() if v.updated_at else "-"),
    ]


async def _transfer_show(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    v = await service.show_transfer(scope, args.did)
    if args.json:
        _json(v.as_dict())
        return
    lines = _show_lines(v)
    width = max(len(k) for k, _ in lines) + 1
    for key, value in lines:
        print(f"{key + ':':<{width}} {value}")


async def _transfer_export(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    out = io.StringIO()
    count = await service.export_csv(scope, out)
    if args.file is None:
        sys.stdout.write(out.getvalue())
        return
    try:
        args.file.write_text(out.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {args.file}: {exc.strerror}") from None
    print(f"exported the transfer settings of {count} DIDs to {args.file}")


async def _transfer_import(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    try:
        text = args.file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{args.file}: not UTF-8 text") from None
    rows = max(text.count("\n") - 1, 0)
    async with progress(f"{'checking' if args.dry_run else 'importing'} {rows} rows of {args.file}"):
        count = await service.import_csv(scope, text, dry_run=args.dry_run)
    if args.dry_run:
        print(f"dry run: the transfer settings of {count} DIDs are valid; nothing changed")
    else:
        print(f"imported the transfer settings of {count} DIDs")


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def _call_dict(call: CallRecord) -> dict[str, Any]:
    values = call._asdict()
    for key, value in values.items():
        if isinstance(value, datetime):
            values[key] = value.isoformat()
    return values


async def _calls(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    calls = await service.list_calls(
        scope, did=args.did, account=args.account, since=args.since, limit=args.limit
    )
    if args.json:
        _json([_call_dict(c) for c in calls])
        return
    headers = [
        "STARTED (UTC)", "DID", "ACCOUNT", "CALLER", "PRIMARY", "STATUS", "TRANSFER", "TO", "STATUS",
        "RESULT", "ANSWERED", "ENDED", "CAUSE", "BILLSEC",
    ]  # fmt: skip
    rows = [
        [
            _time(c.started_at),
            c.did,
            c.account_number or "-",
            c.caller or "-",
            c.primary_destination or "-",
            c.primary_dialstatus or "-",
            c.transfer_condition or "-",
            c.transfer_destination or "-",
            c.transfer_dialstatus or "-",
            c.result,
            _time(c.answered_at)[11:] if c.answered_at else "-",
            _time(c.ended_at)[11:] if c.ended_at else "-",
            str(c.hangup_cause) if c.hangup_cause is not None else "-",
            str(c.billsec) if c.billsec is not None else "-",
        ]
        for c in calls
    ]
    print(_table(headers, rows))
