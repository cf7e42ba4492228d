"""The `transfer` commands: set, list, show, and CSV export and import."""

from __future__ import annotations

import argparse
import io
import sys

from did_failover.admin.service import Scope, Service
from did_failover.admin.views import TransferView
from did_failover.cli.progress import progress
from did_failover.cli.render import print_json, table, transfer_lines
from did_failover.errors import InputError
from did_failover.routing.forwards import SEPARATOR


async def transfer_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`transfer set`."""
    v = await service.set_transfer(
        scope,
        args.did,
        always=args.always,
        busy=args.busy,
        no_answer=args.no_answer,
        unavailable=args.unavailable,
        after_hours=args.after_hours,
        timeout=args.timeout,
        caller_id=args.caller_id,
        enabled=args.enabled,
    )
    print(f"transfer of DID {v.did} updated: {v.status}")
    if args.enabled is None and v.status != "on":
        print(transfer_off_note(v))


def transfer_off_note(v: TransferView) -> str:
    """What to run when a DID's transfer, or its account's, is off: its forward lists are kept but not
    used. Only --on and --off change the DID's switch."""
    if not v.enabled:
        return (
            f"note: transfer of DID {v.did} is off, so calls are not forwarded:"
            f" 'did-failover transfer set {v.did} --on' turns it on"
        )
    return (
        f"note: transfer of account {v.account} is off, so none of its DIDs forwards:"
        f" 'did-failover account set {v.account} --transfer on' turns it on"
    )


async def transfer_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`transfer list`: the "DIDs Call Transfer" table."""
    views = await service.list_transfers(scope)
    if args.json:
        print_json([v.as_dict() for v in views])
        return
    headers = [
        "DID",
        "ACCOUNT",
        "DID TYPE",
        "PRIMARY",
        "BUSY",
        "NO ANSWER",
        "UNAVAILABLE",
        "ALWAYS",
        "AFTER HOURS",
    ]
    shown = (lambda text: text or "-") if args.wide else _first_step
    rows = [
        [
            v.did,
            v.account,
            v.did_type,
            v.primary,
            shown(v.busy),
            shown(v.no_answer),
            shown(v.unavailable),
            shown(v.always),
            shown(v.after_hours),
            v.status,
        ]
        for v in views
    ]
    print("DIDs Call Transfer")
    print(table([*headers, "TRANSFER"], rows))


def _first_step(forwards: str | None) -> str:
    """A forward list in a table cell: its first step, and how many more (`transfer show` and
    `--wide` have the whole list): `pstn:+15557654321/20 (+2)`."""
    if not forwards:
        return "-"
    first, *more = forwards.split(SEPARATOR)
    return f"{first} (+{len(more)})" if more else first


async def transfer_show(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`transfer show`."""
    v = await service.show_transfer(scope, args.did)
    if args.json:
        print_json(v.as_dict())
        return
    lines = transfer_lines(v)
    width = max(len(k) for k, _ in lines) + 1
    for key, value in lines:
        print(f"{key + ':':<{width}} {value}")


async def transfer_export(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`transfer export`: CSV to a file or stdout."""
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


async def transfer_import(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`transfer import`: all rows or none."""
    try:
        text = args.file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{args.file}: not UTF-8 text") from None
    rows = max(text.count("\n") - 1, 0)
    async with progress(f"{'checking' if args.dry_run else 'importing'} {rows} rows of {args.file}"):
        done = await service.import_csv(scope, text, dry_run=args.dry_run)
    created = f"{done.created} new DIDs and " if done.created else ""
    if args.dry_run:
        print(f"dry run: {created}the transfer settings of {done.configured} DIDs are valid; nothing changed")
    else:
        made = f"created {done.created} DIDs and " if done.created else ""
        print(f"{made}imported the transfer settings of {done.configured} DIDs")
