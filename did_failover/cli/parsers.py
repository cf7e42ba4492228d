"""The argparse tree of the management commands: groups, options, and which command each runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from did_failover.cli import commands, schedules, transfers, users, webhooks
from did_failover.cli.commands import Work
from did_failover.conditions import Condition


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the db, account, did, transfer, calls, user, token, webhook and changes commands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--as-reseller",
        metavar="NUMBER",
        help="act as this reseller: only its customers' accounts and DIDs exist",
    )

    def leaf(group: Any, name: str, work: Work, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help)
        parser.set_defaults(func=lambda args: commands.run(args, work, parser))
        return parser

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="COMMAND"
    )
    leaf(db, "init", commands.db_init, "create the schema (idempotent)")

    account = sub.add_parser("account", help="accounts: admin, reseller, customer").add_subparsers(
        dest="account_command", required=True, metavar="COMMAND"
    )
    p = leaf(account, "add", commands.account_add, "create an account")
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--name", required=True, help="the account's name, as people know it")
    p.add_argument(
        "--type",
        required=True,
        choices=["admin", "reseller", "customer"],
        help="customers own DIDs; resellers own customers",
    )
    p.add_argument("--reseller", metavar="NUMBER", help="the reseller owning this customer")
    p = leaf(account, "set", commands.account_set, "change an account")
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--name", help="a new name")
    _on_off_flags(p, "active", "--active", "--inactive")
    p.add_argument("--transfer", choices=["on", "off"], help="account-level call-transfer switch")
    p = leaf(account, "list", commands.account_list, "list accounts")
    p.add_argument("--json", action="store_true", help="every field, as JSON")

    did = sub.add_parser("did", help="DIDs").add_subparsers(
        dest="did_command", required=True, metavar="COMMAND"
    )
    p = leaf(did, "add", commands.did_add, "add a DID to a customer account")
    p.add_argument("did", metavar="DID")
    p.add_argument("--account", required=True, metavar="NUMBER", help="the customer account it belongs to")
    p.add_argument(
        "--primary",
        required=True,
        metavar="DEST",
        help="where calls go first: pstn:NUMBER, sip:USER@HOST or endpoint:NAME",
    )
    p.add_argument(
        "--ring-timeout",
        type=int,
        default=30,
        metavar="SEC",
        help="seconds the primary rings, 1-300 (default 30)",
    )
    p.add_argument(
        "--max-channels", type=int, default=0, metavar="N", help="calls at once, 0 = unlimited (default 0)"
    )
    p = leaf(did, "set", commands.did_set, "change a DID (what is not given stays as it is)")
    p.add_argument("did", metavar="DID")
    p.add_argument("--account", metavar="NUMBER", help="move it to this customer account")
    p.add_argument("--primary", metavar="DEST", help="pstn:NUMBER, sip:USER@HOST or endpoint:NAME")
    p.add_argument("--ring-timeout", type=int, metavar="SEC", help="seconds the primary rings, 1-300")
    p.add_argument("--max-channels", type=int, metavar="N", help="calls at once, 0 = unlimited")
    _on_off_flags(p, "active", "--active", "--inactive")
    p = leaf(did, "remove", commands.did_remove, "remove a DID and its transfer settings")
    p.add_argument("did", metavar="DID")
    p = leaf(did, "list", commands.did_list, "list DIDs")
    p.add_argument("--account", metavar="NUMBER", help="this account's only")
    p.add_argument("--json", action="store_true", help="every field, as JSON")

    transfer = sub.add_parser("transfer", help="call transfer per DID").add_subparsers(
        dest="transfer_command", required=True, metavar="COMMAND"
    )
    p = leaf(transfer, "set", transfers.transfer_set, "change a DID's call-transfer settings")
    p.add_argument("did", metavar="DID")
    for condition in Condition:
        p.add_argument(
            condition.flag,
            metavar="LIST|none",
            help="DEST[/SEC][,DEST[/SEC]...]: up to 5 destinations tried in order, each ringing SEC or the"
            " transfer timeout (voicemail:BOX last); none clears it",
        )
    p.add_argument(
        "--timeout",
        type=int,
        metavar="SEC",
        help="the transfer timeout: seconds a forward step rings unless it has /SEC, 1-300 (default 30)",
    )
    p.add_argument(
        "--caller-id",
        choices=["keep", "did"],
        help="caller ID of forwarded calls: the caller's (keep, the default) or the DID (did)",
    )
    _on_off_flags(p, "enabled", "--on", "--off")
    p = leaf(transfer, "list", transfers.transfer_list, 'the "DIDs Call Transfer" table')
    p.add_argument(
        "--wide",
        action="store_true",
        help="every step of each forward list (default: the first, and how many more)",
    )
    p.add_argument("--json", action="store_true", help="every field, as JSON")
    p = leaf(transfer, "show", transfers.transfer_show, "one DID's call-transfer settings")
    p.add_argument("did", metavar="DID")
    p.add_argument("--json", action="store_true", help="every field, as JSON")
    p = leaf(transfer, "export", transfers.transfer_export, "write the settings as CSV")
    p.add_argument("file", nargs="?", type=Path, metavar="FILE.csv", help="stdout when omitted")
    p = leaf(transfer, "import", transfers.transfer_import, "apply a CSV export, all rows or none")
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument("--dry-run", action="store_true", help="check every row, change nothing")

    schedule = sub.add_parser("schedule", help="business hours per DID").add_subparsers(
        dest="schedule_command", required=True, metavar="COMMAND"
    )
    p = leaf(schedule, "set", schedules.schedule_set, "set a DID's business hours (replaces them)")
    p.add_argument("did", metavar="DID")
    p.add_argument("--zone", required=True, metavar="ZONE", help="IANA time zone, such as Europe/Paris")
    p.add_argument(
        "--open", action="append", default=[], metavar="'DAYS HH:MM-HH:MM'", help="open hours (repeat)"
    )
    p.add_argument(
        "--closed",
        action="append",
        default=[],
        metavar="'DATE[..DATE] [HH:MM-HH:MM]'",
        help="closed days, such as holidays (repeat)",
    )
    p.add_argument("--after-hours", metavar="LIST|none", help="where calls go while closed")
    p = leaf(schedule, "show", schedules.schedule_show, "a DID's business hours, and whether it is open now")
    p.add_argument("did", metavar="DID")
    p.add_argument("--json", action="store_true", help="every field, as JSON")
    p = leaf(schedule, "remove", schedules.schedule_remove, "remove a DID's business hours: always open")
    p.add_argument("did", metavar="DID")

    p = leaf(sub, "calls", commands.calls, "call history of routed calls, newest first")
    p.add_argument("--did", metavar="DID", help="this DID's only")
    p.add_argument("--account", metavar="NUMBER", help="this account's only")
    p.add_argument("--since", metavar="WHEN", help="age (30m, 2h, 7d, 1w) or date/time (2026-11-27T08:00)")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N calls (default 50)")
    p.add_argument(
        "--every-owner",
        action="store_true",
        help="with --did: also the calls of the DID's earlier owners (default: its current owner's only)",
    )
    p.add_argument("--json", action="store_true", help="every field, as JSON")

    user = sub.add_parser("user", help="logins of the web page and the API").add_subparsers(
        dest="user_command", required=True, metavar="COMMAND"
    )
    p = leaf(user, "add", users.user_add, "create a user (the password is asked twice, or read from stdin)")
    p.add_argument("username", metavar="USERNAME")
    p.add_argument(
        "--role",
        required=True,
        choices=["admin", "reseller", "customer"],
        help="admin: everything; reseller, customer: that account's (--account)",
    )
    p.add_argument("--account", metavar="NUMBER", help="the reseller or customer account (not for admin)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p = leaf(user, "set", users.user_set, "change a user's password or status (ends its sessions)")
    p.add_argument("username", metavar="USERNAME")
    p.add_argument("--password-stdin", action="store_true", help="read the new password from stdin")
    _on_off_flags(p, "active", "--active", "--inactive")
    p = leaf(user, "remove", users.user_remove, "remove a user (ends its sessions)")
    p.add_argument("username", metavar="USERNAME")
    p = leaf(user, "list", users.user_list, "list users")
    p.add_argument("--json", action="store_true", help="every field, as JSON")

    token = sub.add_parser("token", help="API tokens (Authorization: Bearer TOKEN)").add_subparsers(
        dest="token_command", required=True, metavar="COMMAND"
    )
    p = leaf(token, "add", users.token_add, "make a long-lived token for a user; it is printed once")
    p.add_argument("username", metavar="USERNAME")
    p.add_argument("--expires", type=int, metavar="DAYS", help="days until it expires (default: never)")
    p.add_argument("--name", default="cli", metavar="LABEL", help="what it is for (default cli)")
    p = leaf(token, "list", users.token_list, "list tokens (never the tokens themselves)")
    p.add_argument("username", nargs="?", metavar="USERNAME")
    p.add_argument("--json", action="store_true", help="every field, as JSON")
    p = leaf(token, "remove", users.token_remove, "remove a token: it stops working at once")
    p.add_argument("id", type=int, metavar="ID")

    webhook = sub.add_parser(
        "webhook", help="push call.ended and change.made events to a URL (signed, retried)"
    ).add_subparsers(dest="webhook_command", required=True, metavar="COMMAND")
    p = leaf(webhook, "add", webhooks.webhook_add, "subscribe a URL; its signing secret is printed once")
    p.add_argument("url", metavar="URL", help="http:// or https:// to a public address (see WEBHOOK_ALLOW)")
    p.add_argument(
        "--events", required=True, metavar="EVENTS", help="call.ended, change.made or both, comma-separated"
    )
    p = leaf(webhook, "list", webhooks.webhook_list, "list webhooks, with how far behind each is")
    p.add_argument("--json", action="store_true", help="every field, as JSON")
    p = leaf(webhook, "remove", webhooks.webhook_remove, "remove a webhook")
    p.add_argument("id", metavar="ID")
    p = leaf(
        webhook, "test", webhooks.webhook_test, "send a signed ping now (and end a pause after failures)"
    )
    p.add_argument("id", metavar="ID")
    p = leaf(
        webhook,
        "rotate",
        webhooks.webhook_rotate,
        "a new signing secret, printed once; the old one signs too for 24 h",
    )
    p.add_argument("id", metavar="ID")

    p = leaf(
        sub, "changes", commands.changes, "who changed which account, DID or transfer setting, newest first"
    )
    p.add_argument("--did", metavar="DID", help="this DID's only")
    p.add_argument("--account", metavar="NUMBER", help="this account's only")
    p.add_argument("--actor", metavar="NAME", help="only this actor's changes (cli:USER, sql, ...)")
    p.add_argument("--since", metavar="WHEN", help="age (30m, 2h, 7d, 1w) or date/time (2026-11-27T08:00)")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N changes (default 50)")
    p.add_argument("--json", action="store_true", help="every field, as JSON")


def _on_off_flags(parser: argparse.ArgumentParser, dest: str, on: str, off: str) -> None:
    """A pair of switches; given neither, the setting stays as it is."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(on, dest=dest, action="store_const", const=True, default=None, help="switch it on")
    group.add_argument(
        off, dest=dest, action="store_const", const=False, help="switch it off (neither: as it is)"
    )
