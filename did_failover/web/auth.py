"""Logins: server-side sessions, CSRF tokens, and the login throttle.

- The session cookie holds 32 random bytes; the database keeps only their SHA-256, so a copy of the
  database opens no session. A login always issues a new one; logout, an idle time-out, and a
  deactivated, removed or re-passworded user end it.
- Every form carries the session's CSRF token (synchronizer token). The login form, before there
  is a session, carries an HMAC of a random pre-login cookie under a key generated once and kept
  in the database (double submit, signed).
- Failed logins are counted per username and per client address in a moving window of a minute,
  in the database (or in Redis when `DID_FAILOVER_REDIS_URL` is set, the database standing in while
  Redis does not answer), so that every web process behind a load balancer counts the same failures
  and a restart forgets none. Buckets are SHA-256 digests (of the exact username, which passed the
  username rule first, and of the address), so no input grows a key; expired rows are deleted as
  new failures come. Over the limit the login answers 429 with Retry-After, and the count decays:
  it backs off, it never locks the account.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from did_failover.admin.service import Scope
from did_failover.admin.users import USERNAME, burn_a_hash, verify_password
from did_failover.logs import get_logger
from did_failover.storage.base import Repository
from did_failover.storage.records import SessionRow, UserRow

log = get_logger("did_failover.web")
SESSION_COOKIE = "did_failover_session"
LOGIN_COOKIE = "did_failover_login"
KEY_ROW = "login_csrf_key"
"""The web_secrets row holding the login form's HMAC key."""
TOUCH_EVERY = timedelta(seconds=60)
"""A session's last use is written at most this often (not on every request)."""

PER_USERNAME = 5
"""Failed logins a minute for one username before it is throttled."""
PER_ADDRESS = 20
"""Failed logins a minute from one client address before it is throttled."""
WINDOW = timedelta(minutes=1)


def token() -> str:
    """A new random token for a cookie (256 bits)."""
    return secrets.token_urlsafe(32)


def session_key(cookie: str) -> str:
    """What the database keeps of a session cookie."""
    return digest(cookie)


def digest(text: str) -> str:
    """The SHA-256 (hex) the database keeps in place of a secret or an input: a session cookie, an
    API token, a throttle bucket."""
    return hashlib.sha256(text.encode()).hexdigest()


def cookie_name(base: str, https: bool) -> str:
    """`__Host-` names where the scheme allows them (HTTPS: Secure, Path=/, no Domain)."""
    return f"__Host-{base}" if https else base


def https(request: Request) -> bool:
    """True when the request came over HTTPS (directly or through a trusted proxy)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, base: str, value: str) -> None:
    """Set one of our cookies: HttpOnly, SameSite=Strict, and `__Host-` and Secure over HTTPS."""
    response.set_cookie(
        cookie_name(base, https(request)),
        value,
        httponly=True,
        samesite="strict",
        secure=https(request),
        path="/",
    )


def delete_cookie(response: Response, request: Request, base: str) -> None:
    """Delete one of our cookies with the attributes it was set with: browsers ignore the deletion
    of a `__Host-` cookie that lacks Secure."""
    response.delete_cookie(
        cookie_name(base, https(request)), path="/", secure=https(request), httponly=True, samesite="strict"
    )


def cookie(request: Request, base: str) -> str | None:
    """The value of one of our cookies, by the name the scheme gives it."""
    return request.cookies.get(cookie_name(base, https(request)))


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode(), b.encode())


async def verify_password_or_burn(password_hash: str | None, password: str) -> bool:
    """Check a password; with no user to check it against, spend the same time and say no."""
    if password_hash is None:
        await burn_a_hash(password)
        return False
    return await verify_password(password_hash, password)


def may_log_in(user: UserRow) -> bool:
    """Active, and a reseller or customer with its account (a row edited by hand without one must
    never fall back to the admin's scope)."""
    return user.active and (user.role == "admin" or user.account is not None)


def scope_of(user: UserRow, via: str = "web") -> Scope:
    """The service-layer scope a user acts in, recorded as `web:USER` or `api:USER`."""
    actor = f"{via}:{user.username}"
    if user.role == "reseller":
        return Scope(reseller=user.account, actor=actor)
    if user.role == "customer":
        return Scope(customer=user.account, actor=actor)
    return Scope(actor=actor)


@dataclass(frozen=True, slots=True)
class Login:
    """The user behind a request, and the CSRF token its forms carry."""

    user: UserRow
    csrf: str
    key: str

    @property
    def scope(self) -> Scope:
        return scope_of(self.user)


class Sessions:
    """Sessions in the database, with their idle time-out and their absolute lifetime."""

    def __init__(self, repo: Repository, idle: float, lifetime: float = 43200.0) -> None:
        self.repo = repo
        self.idle = timedelta(seconds=idle)
        self.lifetime = timedelta(seconds=lifetime)

    async def start(self, user: UserRow) -> tuple[str, Login]:
        """A new session for `user`: the cookie value and the login."""
        cookie, csrf = token(), token()
        key = session_key(cookie)
        await self.repo.add_session(key, user.username, csrf)
        return cookie, Login(user, csrf, key)

    async def find(self, cookie: str | None) -> Login | None:
        """The live session of a cookie; an idle, too old, orphaned or deactivated one is ended here."""
        if not cookie or len(cookie) > 100:
            return None
        key = session_key(cookie)
        row: SessionRow | None = await self.repo.get_session(key)
        if row is None:
            return None
        now = datetime.now(UTC)
        too_old = now - row.created_at > self.lifetime
        if not may_log_in(row.user) or now - row.last_seen_at > self.idle or too_old:
            await self.repo.remove_session(key)
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            await self.repo.touch_session(key)
        return Login(row.user, row.csrf_token, key)

    async def end(self, login: Login) -> None:
        """Log out."""
        await self.repo.remove_session(login.key)

    async def sweep(self) -> int:
        """End every session idle longer than the time-out."""
        return await self.repo.remove_sessions_idle_since(datetime.now(UTC) - self.idle)


class LoginForm:
    """The CSRF token of the login form, which no session protects yet."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def token_for(self, cookie: str) -> str:
        return hmac.new(self._key, cookie.encode(), hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, token_sent: str | None) -> bool:
        return bool(cookie and token_sent) and same(self.token_for(cookie or ""), token_sent or "")


class FailureStore(Protocol):
    """Where the throttle counts failed logins: the database (the Repository) or Redis."""

    async def login_failures(
        self, buckets: Sequence[str], since: datetime
    ) -> dict[str, tuple[int, datetime]]:
        """Per bucket that has any, the failed logins since `since`: how many, and the oldest's time."""
        ...

    async def add_login_failure(self, buckets: Sequence[str], at: datetime, forget_before: datetime) -> None:
        """Record a failed login at `at` in each bucket, and forget every failure before `forget_before`."""
        ...


class RedisFailures:
    """Failed logins in Redis, a sorted set per bucket scored by the failure's time, each set expiring
    with the window; when Redis does not answer, the database counts them (one warning line)."""

    def __init__(self, redis: Redis, prefix: str, fallback: FailureStore) -> None:
        self._redis = redis
        self._prefix = f"{prefix}login:"
        self._fallback = fallback
        self.down = False

    async def login_failures(
        self, buckets: Sequence[str], since: datetime
    ) -> dict[str, tuple[int, datetime]]:
        """Per bucket that has any, the failed logins since `since`: how many, and the oldest's time."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for bucket in buckets:
                    pipe.zcount(self._prefix + bucket, since.timestamp(), "+inf")
                    pipe.zrangebyscore(
                        self._prefix + bucket, since.timestamp(), "+inf", 0, 1, withscores=True
                    )
                answers = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._lost(exc)
            return await self._fallback.login_failures(buckets, since)
        self._back()
        found = {}
        for bucket, count, oldest in zip(buckets, answers[::2], answers[1::2], strict=True):
            if count:
                found[bucket] = (int(count), datetime.fromtimestamp(oldest[0][1], UTC))
        return found

    async def add_login_failure(self, buckets: Sequence[str], at: datetime, forget_before: datetime) -> None:
        """Record a failed login at `at` in each bucket, and forget every failure before `forget_before`."""
        keep_ms = max(1, int((at - forget_before).total_seconds() * 1000))
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for bucket in buckets:
                    key = self._prefix + bucket
                    pipe.zadd(key, {secrets.token_hex(8): at.timestamp()})
                    pipe.zremrangebyscore(key, "-inf", f"({forget_before.timestamp()}")
                    pipe.pexpire(key, keep_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._lost(exc)
            await self._fallback.add_login_failure(buckets, at, forget_before)
            return
        self._back()

    def _lost(self, exc: BaseException) -> None:
        if not self.down:
            log.warning("redis unreachable: the database counts failed logins", error=str(exc))
        self.down = True

    def _back(self) -> None:
        if self.down:
            log.info("redis reachable again: it counts failed logins")
        self.down = False


class Throttle:
    """Failed logins per username and per client address; `retry_after` > 0 while over the limit."""

    def __init__(self, store: FailureStore) -> None:
        self.store = store

    async def retry_after(self, username: str, address: str) -> int:
        """Seconds to wait before the next attempt is looked at, 0 when it may go ahead."""
        limits = _buckets(username, address)
        now = datetime.now(UTC)
        found = await self.store.login_failures(list(limits), now - WINDOW)
        waits = [
            max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
            for bucket, (count, oldest) in found.items()
            if count >= limits[bucket]
        ]
        return max(waits, default=0)

    async def failed(self, username: str, address: str) -> None:
        """Count one failed login of `username` from `address`."""
        now = datetime.now(UTC)
        await self.store.add_login_failure(list(_buckets(username, address)), now, now - WINDOW)


def _buckets(username: str, address: str) -> dict[str, int]:
    """The throttle's buckets of a login and the limit of each: digests, so no input sizes a key."""
    try:
        address = ipaddress.ip_address(address).compressed
    except ValueError:
        pass  # not an address (a test client's name): its digest is its bucket
    return {digest(f"user:{username}"): PER_USERNAME, digest(f"addr:{address}"): PER_ADDRESS}


def login_name(text: str) -> str | None:
    """The username a login form or POST /tokens sent, when it follows the username rule; None
    otherwise (refused before the throttle or the database sees it)."""
    return text if USERNAME.fullmatch(text) else None
