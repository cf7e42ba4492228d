"""The `webhook` commands: subscriptions that push call.ended and change.made events, over
admin/_webhooks.py."""

from __future__ import annotations

import argparse

from did_failover.admin.service import Scope, Service
from did_failover.cli.render import clock, print_json, table
from did_failover.console import EXIT_FAILED, error


async def webhook_add(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`webhook add`: the signing secret is printed this once."""
    hook = await service.add_webhook(scope, args.url, args.events)
    whose = f"reseller {hook.reseller}'s customers'" if hook.reseller else "every account's"
    print(
        f"webhook {hook.id} added: {', '.join(hook.events)} events of {whose} calls and changes to {hook.url}"
    )
    print(f"signing secret (shown this once, give it to the receiver): {hook.secret}")


async def webhook_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`webhook list`: each subscription with how far behind it is."""
    views = await service.list_webhooks(scope)
    if args.json:
        print_json([v.as_dict() for v in views])
        return
    headers = ["ID", "URL", "EVENTS", "OWNER", "STATUS", "BEHIND", "OLDEST UNDELIVERED", "LAST ERROR"]
    rows = [
        [
            str(v.row.id),
            v.row.url,
            ",".join(v.row.events),
            v.owner,
            v.status + (f" ({v.row.attempts} failed)" if v.row.attempts else ""),
            v.behind,
            clock(v.backlog.oldest),
            v.row.last_error or "-",
        ]
        for v in views
    ]
    print(table(headers, rows) if rows else "no webhooks")


async def webhook_remove(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`webhook remove`."""
    await service.remove_webhook(scope, args.id)
    print(f"webhook {args.id} removed; its undelivered events will not be sent")


async def webhook_test(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`webhook test`: a signed ping now; exit 1 when the receiver did not take it."""
    hook, problem = await service.test_webhook(scope, args.id)
    if problem is not None:
        error(f"webhook {hook.id}: the ping to {hook.url} failed: {problem}")
        raise SystemExit(EXIT_FAILED)
    print(f"webhook {hook.id}: {hook.url} took the ping")


async def webhook_rotate(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`webhook rotate`: the new signing secret is printed this once."""
    hook = await service.rotate_webhook(scope, args.id)
    until = f" until {clock(hook.previous_until)} UTC" if hook.previous_until else ""
    print(f"webhook {hook.id}: new signing secret (shown this once, give it to the receiver): {hook.secret}")
    print(f"requests are signed with the old secret too{until}: switch the receiver over before then")
