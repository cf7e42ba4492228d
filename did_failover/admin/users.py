"""Web and API users: who may log in, with which role and account, and the password rules.

Passwords: at least 12 characters, at most 1,024, and not one of the 10,000 most common passwords of
12 characters or more (compared without case). No composition rules (NIST SP 800-63B). The list
ships as `common_passwords.txt`: the first 10,000 distinct entries of 12 or more characters, lower
case, of SecLists' `10-million-password-list-top-1000000.txt` (Daniel Miessler, MIT licence), in
the order of that list, so the most common come first. Hashes are argon2id (argon2-cffi's
defaults, RFC 9106's second recommended profile); hashing takes tens of milliseconds of CPU and
runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from did_failover.admin.service import Scope, Service
from did_failover.errors import Conflict, Forbidden, InputError, NotFound, NothingToChange
from did_failover.numbers import account_number
from did_failover.storage.base import Repository, acting_as
from did_failover.storage.records import LOGIN_TOKEN, Role, TokenRow, UserRow

ROLES: tuple[Role, ...] = get_args(Role)
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}", re.ASCII)
MIN_PASSWORD = 12
MAX_PASSWORD = 1024

_hasher = PasswordHasher()


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case."""
    text = resources.files("did_failover.admin").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def check_password(password: str) -> str:
    """The password when it may be used; InputError naming the rule it breaks."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"at least {MIN_PASSWORD} characters, got {len(password)}", "password")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"at most {MAX_PASSWORD} characters", "password")
    if password.lower() in common_passwords():
        raise InputError("it is one of the 10,000 most common passwords; choose another", "password")
    return password


USERNAME_RULE = "1 to 64 letters, digits, _ . @ or -"
"""The username rule in words. Names are compared exactly, byte for byte, on both back ends."""


def username(text: str) -> str:
    """A username; InputError unless 1..64 letters, digits, _ . @ or -."""
    if not USERNAME.fullmatch(text):
        raise InputError(f"{text[:80]!r} is not a valid username: {USERNAME_RULE}", "username")
    return text


async def hash_password(password: str) -> str:
    """argon2id hash, computed in a worker thread."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches the hash (checked in a worker thread)."""
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def burn_a_hash(password: str) -> None:
    """Spend the time a verification takes, for a username that does not exist (no timing oracle)."""
    await verify_password(_dummy_hash(), password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("did-failover: no such user")


class Users:
    """User management for the CLI (and later the web's own admin pages); scope as in Service."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    async def _visible(self, scope: Scope, name: str) -> UserRow:
        user = await self.repo.get_user(username(name))
        if user is None or not await self._sees(scope, user):
            raise NotFound(f"user {name} not found")
        return user

    async def _sees(self, scope: Scope, user: UserRow) -> bool:
        if scope.reseller is None:
            return True
        if user.account is None:
            return False
        if user.account == scope.reseller:
            return True
        account = await self.repo.get_account(user.account)
        return account is not None and account.reseller == scope.reseller

    async def add_user(
        self, scope: Scope, name: str, role: str, account: str | None, password: str
    ) -> UserRow:
        """Create a user; a reseller scope may only create users of its own customers."""
        name = username(name)
        if role not in ROLES:
            raise InputError(f"must be admin, reseller or customer, got {role[:20]!r}", "role")
        if role == "admin":
            if account is not None:
                raise InputError("an admin user belongs to no account", "account")
            if scope.reseller is not None:
                raise Forbidden("a reseller can create customer users only", "role")
        else:
            if account is None:
                raise InputError(f"a {role} user needs the {role} account it belongs to", "account")
            owner = await self.repo.get_account(account_number(account, "account"))
            if owner is None or not Service.sees(scope, owner):
                raise NotFound(f"account {account} not found")
            if owner.type != role:
                raise InputError(f"account {account} is a {owner.type} account, not a {role} one", "account")
        check_password(password)
        if await self.repo.get_user(name) is not None:
            raise Conflict(f"user {name} already exists")
        password_hash = await hash_password(password)
        with acting_as(scope.actor):
            return await self.repo.add_user(name, role, account, password_hash)

    async def set_user(
        self, scope: Scope, name: str, *, password: str | None = None, active: bool | None = None
    ) -> UserRow:
        """Change a user's password or status; either ends every session of that user, and a new
        password every token a password login handed out (long-lived tokens are kept: the
        operator made them, not the password)."""
        if password is None and active is None:
            raise NothingToChange("password_stdin", "active")
        if password is not None:
            check_password(password)
        await self._visible(scope, name)
        password_hash = None if password is None else await hash_password(password)
        with acting_as(scope.actor):
            return await self.repo.update_user(name, password_hash=password_hash, active=active)

    async def remove_user(self, scope: Scope, name: str) -> None:
        """Delete a user; every session of theirs ends."""
        await self._visible(scope, name)
        with acting_as(scope.actor):
            await self.repo.remove_user(name)

    async def list_users(self, scope: Scope) -> list[UserRow]:
        """The users the scope sees."""
        await Service(self.repo).check_scope(scope)
        return await self.repo.list_users(reseller=scope.reseller)

    # API tokens

    async def add_token(
        self, scope: Scope, name: str, *, days: int | None = None, label: str = "cli"
    ) -> tuple[str, TokenRow]:
        """A long-lived API token for a user: the token (shown once) and its row."""
        user = await self._visible(scope, name)
        if days is not None and not 1 <= days <= 3650:
            raise InputError(f"{days} is not a number of days 1..3650", "expires")
        if not 1 <= len(label) <= 64:
            raise InputError("give a label of 1..64 characters", "name")
        if label == LOGIN_TOKEN:
            raise InputError(
                f"{LOGIN_TOKEN!r} names the tokens a password login hands out; choose another", "name"
            )
        value = secrets.token_urlsafe(32)
        expires = None if days is None else datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
        row = await self.repo.add_token(
            user.username, label, hashlib.sha256(value.encode()).hexdigest(), expires
        )
        return value, row

    async def list_tokens(self, scope: Scope, name: str | None = None) -> list[TokenRow]:
        """The tokens of the users the scope sees (or of one of them)."""
        if name is not None:
            await self._visible(scope, name)
            return await self.repo.list_tokens(name)
        visible = {u.username for u in await self.list_users(scope)}
        return [t for t in await self.repo.list_tokens() if t.username in visible]

    async def remove_token(self, scope: Scope, token_id: int) -> None:
        """Delete a token of a user the scope sees; it stops working at once."""
        if token_id not in {t.id for t in await self.list_tokens(scope)}:
            raise NotFound(f"token {token_id} not found")
        await self.repo.remove_token(token_id)
