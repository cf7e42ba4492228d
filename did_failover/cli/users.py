"""The `user` commands: logins of the web page and the API, over admin/users.py."""

from __future__ import annotations

import argparse
import getpass
import sys

from did_failover.admin.service import Scope, Service
from did_failover.admin.users import Users
from did_failover.admin.views import active_word, user_dict
from did_failover.cli.render import clock, print_json, table
from did_failover.errors import InputError


def read_password(args: argparse.Namespace, prompt: str = "Password") -> str:
    """The password from stdin (--password-stdin, one line) or asked twice on the terminal."""
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("nothing on stdin", "password_stdin")
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise InputError("password: give --password-stdin, or run the command on a terminal to be asked")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass(f"{prompt} (again): ") != first:
        raise InputError("password: the two entries differ; nothing changed")
    return first


async def user_add(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`user add`."""
    password = read_password(args)
    user = await Users(service.repo).add_user(scope, args.username, args.role, args.account, password)
    owner = f" of account {user.account}" if user.account else ""
    print(f"user {user.username} added: {user.role}{owner}")


async def user_set(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`user set`."""
    password = read_password(args, "New password") if args.password_stdin or args.active is None else None
    users = Users(service.repo)
    user = await users.set_user(scope, args.username, password=password, active=args.active)
    ended = "its sessions and login tokens ended" if password is not None else "its sessions ended"
    print(f"user {user.username} updated: {active_word(user.active)}; {ended}")
    kept = await users.list_tokens(scope, user.username) if password is not None else []
    if kept:
        ids = ", ".join(str(t.id) for t in kept)
        print(
            f"kept: {len(kept)} long-lived API token{'s' if len(kept) > 1 else ''} ({ids}), not made"
            f" from the password; end with 'did-failover token remove ID'"
        )


async def user_remove(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`user remove`."""
    await Users(service.repo).remove_user(scope, args.username)
    print(f"user {args.username} removed; its sessions ended")


async def user_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`user list`."""
    users = await Users(service.repo).list_users(scope)
    if args.json:
        print_json([user_dict(u) for u in users])
        return
    rows = [[u.username, u.role, u.account or "-", active_word(u.active), clock(u.updated_at)] for u in users]
    print(table(["USERNAME", "ROLE", "ACCOUNT", "STATUS", "UPDATED (UTC)"], rows))


async def token_add(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`token add`: prints the token once."""
    value, row = await Users(service.repo).add_token(scope, args.username, days=args.expires, label=args.name)
    until = row.expires_at.isoformat() if row.expires_at else "never"
    print(f"token {row.id} for {row.username} ({row.name}), expires {until}; it is shown only now:")
    print(value)


async def token_list(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`token list`."""
    tokens = await Users(service.repo).list_tokens(scope, args.username)
    if args.json:
        print_json(
            [
                {
                    "id": t.id,
                    "username": t.username,
                    "name": t.name,
                    "created_at": t.created_at.isoformat(),
                    "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                }
                for t in tokens
            ]
        )
        return
    rows = [[str(t.id), t.username, t.name, clock(t.created_at), clock(t.expires_at)] for t in tokens]
    print(table(["ID", "USERNAME", "NAME", "CREATED (UTC)", "EXPIRES (UTC)"], rows))


async def token_remove(service: Service, scope: Scope, args: argparse.Namespace) -> None:
    """`token remove`."""
    await Users(service.repo).remove_token(scope, args.id)
    print(f"token {args.id} removed")
