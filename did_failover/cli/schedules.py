"""The `schedule` commands: a DID's business hours and where its calls go after hours."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from did_failover.admin.service import Scope, Service
from did_failover.cli.render import print_json
from did_failover.routing.schedule import parse_schedule


def schedule_text(zone: str, opened: list[str], closed: list[str]) -> str:
    """The schedule text of `schedule set`'s options."""
    return "; ".join([zone, *opened, *(f"closed {when}" for when in closed)])


async def schedule_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`schedule set`."""
    v = await service.set_transfer(
        scope,
        args.did,
        schedule=schedule_text(args.zone, args.open, args.closed),
        after_hours=args.after_hours,
    )
    print(f"schedule of DID {v.did} set: {v.schedule}")
    if not v.after_hours:
        print(f"note: DID {v.did} has no after-hours destination: calls route as in hours until it has one")


async def schedule_remove(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`schedule remove`."""
    v = await service.set_transfer(scope, args.did, schedule="none")
    print(f"schedule of DID {v.did} removed: always open")


async def schedule_show(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`schedule show`: the rules, the after-hours list, and open or closed at this moment."""
    v = await service.show_transfer(scope, args.did)
    now = datetime.now(UTC)
    schedule = await asyncio.to_thread(parse_schedule, v.schedule) if v.schedule else None
    state = "open (no schedule)" if schedule is None else "open" if schedule.is_open(now) else "closed"
    if args.json:
        print_json({"did": v.did, "schedule": v.schedule, "after_hours": v.after_hours, "now": state})
        return
    lines = [("DID", v.did)]
    if schedule is not None:
        local = now.astimezone(schedule.zone)
        rules = schedule.text.split("; ")[1:]
        lines += [("time zone", schedule.zone.key)]
        lines += [("open", rule) for rule in rules if not rule.startswith("closed ")] or [("open", "always")]
        lines += [("closed", rule.removeprefix("closed ")) for rule in rules if rule.startswith("closed ")]
        state += f" (it is {local:%a %Y-%m-%d %H:%M} there)"
    lines += [("after hours", v.after_hours or "-"), ("now", state)]
    width = max(len(key) for key, _ in lines) + 1
    for key, value in lines:
        print(f"{key + ':':<{width}} {value}")
