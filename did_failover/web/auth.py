"""Logins: server-side sessions, CSRF tokens, and the login throttle.

- The session cookie holds 32 random bytes; the database keeps only their SHA-256, so a copy of the
  database opens no session. A login always issues a new one; logout, an idle time-out, and a
  deactivated, removed or re-passworded user end it.
- Every form carries the session's CSRF token (synchronizer token). The login form, before there
  is a session, carries an HMAC of a random pre-login cookie under a key generated once and kept
  in the database (double submit, signed).
- Failed logins are counted per username and per client address in a moving window (the `limits`
  package); over the limit the login answers 429 with Retry-After, and the count decays: it backs
  off, it never locks the account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import Response

from did_failover.admin.service import Scope
from did_failover.admin.users import burn_a_hash, verify_password
from did_failover.storage.base import Repository, SessionRow, UserRow

SESSION_COOKIE = "did_failover_session"
LOGIN_COOKIE = "did_failover_login"
KEY_ROW = "login_csrf_key"
"""The web_secrets row holding the login form's HMAC key."""
TOUCH_EVERY = timedelta(seconds=60)
"""A session's last use is written at most this often (not on every request)."""

PER_USERNAME = RateLimitItemPerMinute(5)
PER_ADDRESS = RateLimitItemPerMinute(20)


def token() -> str:
    """A new random token for a cookie (256 bits)."""
    return secrets.token_urlsafe(32)


def session_key(cookie: str) -> str:
    """What the database keeps of a session cookie."""
    return hashlib.sha256(cookie.encode()).hexdigest()


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
    """Sessions in the database, with their idle time-out."""

    def __init__(self, repo: Repository, idle: float) -> None:
        self.repo = repo
        self.idle = timedelta(seconds=idle)

    async def start(self, user: UserRow) -> tuple[str, Login]:
        """A new session for `user`: the cookie value and the login."""
        cookie, csrf = token(), token()
        key = session_key(cookie)
        await self.repo.add_session(key, user.username, csrf)
        return cookie, Login(user, csrf, key)

    async def find(self, cookie: str | None) -> Login | None:
        """The live session of a cookie; an idle, orphaned or deactivated one is ended here."""
        if not cookie or len(cookie) > 100:
            return None
        key = session_key(cookie)
        row: SessionRow | None = await self.repo.get_session(key)
        if row is None:
            return None
        now = datetime.now(UTC)
        if not may_log_in(row.user) or now - row.last_seen_at > self.idle:
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


class Throttle:
    """Failed logins per username and per client address; `retry_after` > 0 while over the limit."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, username: str, address: str) -> int:
        """Seconds to wait before the next attempt is looked at, 0 when it may go ahead."""
        waits = []
        for item, key in ((PER_USERNAME, f"user:{username.lower()}"), (PER_ADDRESS, f"addr:{address}")):
            if not self._limiter.test(item, key):
                reset = self._limiter.get_window_stats(item, key).reset_time
                waits.append(max(1, int(reset - time.time()) + 1))
        return max(waits, default=0)

    def failed(self, username: str, address: str) -> None:
        self._limiter.hit(PER_USERNAME, f"user:{username.lower()}")
        self._limiter.hit(PER_ADDRESS, f"addr:{address}")
