"""Web and API users, their sessions and tokens, failed logins and the web secrets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from did_failover.errors import InputError
from did_failover.storage._base import Row, SQLBase, _dt
from did_failover.storage.records import LOGIN_TOKEN, Role, SessionRow, TokenRow, UserRow

_USER = """SELECT u.username, u.role, a.number, u.active, u.password_hash, u.created_at, u.updated_at
 FROM users u LEFT JOIN accounts a ON a.id = u.account_id"""


_TOKENS = """SELECT k.id, u.username, k.name, k.created_at, k.expires_at
 FROM api_tokens k JOIN users u ON u.id = k.user_id"""


class LoginQueries(SQLBase):
    """Web and API users, their sessions and tokens, failed logins and the web secrets."""

    @staticmethod
    def _user(row: Row) -> UserRow:
        return UserRow(
            username=row[0],
            role=cast(Role, row[1]),
            account=row[2],
            active=bool(row[3]),
            password_hash=row[4],
            created_at=_dt(row[5]),
            updated_at=_dt(row[6]),
        )

    async def get_user(self, username: str) -> UserRow | None:
        """One user by name."""
        async with self._read() as db:
            row = await db.fetch_one(f"{_USER} WHERE u.username = ?", (username,))
        return None if row is None else self._user(row)

    async def list_users(self, reseller: str | None = None) -> list[UserRow]:
        """Every user, or only those of `reseller` itself and of its customers, ordered by name."""
        async with self._read() as db:
            if reseller is None:
                rows = await db.fetch_all(f"{_USER} ORDER BY u.username")
            else:
                rows = await db.fetch_all(
                    f"{_USER} LEFT JOIN accounts r ON r.id = a.reseller_id"
                    " WHERE a.number = ? OR r.number = ? ORDER BY u.username",
                    (reseller, reseller),
                )
        return [self._user(row) for row in rows]

    async def add_user(self, username: str, role: Role, account: str | None, password_hash: str) -> UserRow:
        """Create an active user."""
        now = self._now()
        async with self._change() as db:
            account_id = None
            if account is not None:
                found = await db.fetch_one("SELECT id FROM accounts WHERE number = ?", (account,))
                if found is None:
                    raise InputError(f"account {account} not found")
                account_id = found[0]
            await db.execute(
                "INSERT INTO users (username, role, account_id, password_hash, active, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
                (username, role, account_id, password_hash, now, now),
            )
        user = await self.get_user(username)
        if user is None:
            raise InputError(f"user {username} not found")
        return user

    async def update_user(
        self, username: str, *, password_hash: str | None = None, active: bool | None = None
    ) -> UserRow:
        """Change a user's password or status; either ends every session of that user, a new
        password also every token taken with the old one (`POST /api/v1/tokens`)."""
        sets: dict[str, Any] = {"password_hash": password_hash, "active": active}
        sets = {column: value for column, value in sets.items() if value is not None}
        sets["updated_at"] = self._now()
        assignments = ", ".join(f"{column} = ?" for column in sets)
        async with self._change() as db:
            if (
                await db.execute(
                    f"UPDATE users SET {assignments} WHERE username = ?", (*sets.values(), username)
                )
                == 0
            ):
                raise InputError(f"user {username} not found")
            await db.execute(
                "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE username = ?)",
                (username,),
            )
            if password_hash is not None:  # what the old password let in: sessions and login tokens
                await db.execute(
                    "DELETE FROM api_tokens WHERE name = ? AND user_id IN"
                    " (SELECT id FROM users WHERE username = ?)",
                    (LOGIN_TOKEN, username),
                )
        user = await self.get_user(username)
        if user is None:
            raise InputError(f"user {username} not found")
        return user

    async def remove_user(self, username: str) -> bool:
        """Delete a user, every session and every API token of theirs; False when there was none."""
        async with self._change() as db:
            for table in ("web_sessions", "api_tokens"):
                await db.execute(
                    f"DELETE FROM {table} WHERE user_id IN (SELECT id FROM users WHERE username = ?)",
                    (username,),
                )
            return await db.execute("DELETE FROM users WHERE username = ?", (username,)) > 0

    async def login_failures(
        self, buckets: Sequence[str], since: datetime
    ) -> dict[str, tuple[int, datetime]]:
        """Per bucket that has any, the failed logins since `since`: how many, and the oldest's time."""
        marks = ", ".join("?" for _ in buckets)
        async with self._read() as db:
            rows = await db.fetch_all(
                "SELECT bucket, COUNT(*), MIN(failed_at) FROM login_failures"
                f" WHERE bucket IN ({marks}) AND failed_at >= ? GROUP BY bucket",
                (*buckets, self._ts(since)),
            )
        return {row[0]: (int(row[1]), _dt(row[2])) for row in rows}

    async def add_login_failure(self, buckets: Sequence[str], at: datetime, forget_before: datetime) -> None:
        """Record a failed login at `at` in each bucket, and forget every failure before `forget_before`."""
        async with self._write() as db:
            await db.execute("DELETE FROM login_failures WHERE failed_at < ?", (self._ts(forget_before),))
            for bucket in buckets:
                await db.execute(
                    "INSERT INTO login_failures (bucket, failed_at) VALUES (?, ?)", (bucket, self._ts(at))
                )

    async def add_session(self, key: str, username: str, csrf_token: str) -> None:
        """Store a new session under `key` (the SHA-256 of its token) for an existing user."""
        now = self._ts(datetime.now(UTC))
        async with self._write() as db:
            inserted = await db.execute(
                "INSERT INTO web_sessions (id, user_id, csrf_token, created_at, last_seen_at)"
                " SELECT ?, id, ?, ?, ? FROM users WHERE username = ?",
                (key, csrf_token, now, now, username),
            )
            if inserted == 0:
                raise InputError(f"user {username} not found")

    async def get_session(self, key: str) -> SessionRow | None:
        """The session stored under `key` with its user, None when there is none."""
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT u.username, u.role, a.number, u.active, u.password_hash, u.created_at,"
                " u.updated_at, s.csrf_token, s.created_at, s.last_seen_at"
                " FROM web_sessions s JOIN users u ON u.id = s.user_id"
                " LEFT JOIN accounts a ON a.id = u.account_id WHERE s.id = ?",
                (key,),
            )
        if row is None:
            return None
        return SessionRow(self._user(row[:7]), row[7], _dt(row[8]), _dt(row[9]))

    async def touch_session(self, key: str) -> None:
        """Mark the session as used now (its idle time starts again)."""
        async with self._write() as db:
            await db.execute(
                "UPDATE web_sessions SET last_seen_at = ? WHERE id = ?", (self._ts(datetime.now(UTC)), key)
            )

    async def remove_session(self, key: str) -> None:
        """End one session."""
        async with self._write() as db:
            await db.execute("DELETE FROM web_sessions WHERE id = ?", (key,))

    async def remove_sessions_idle_since(self, cutoff: datetime) -> int:
        """End every session not used since `cutoff`; return how many."""
        async with self._write() as db:
            return await db.execute("DELETE FROM web_sessions WHERE last_seen_at < ?", (self._ts(cutoff),))

    @staticmethod
    def _token(row: Row) -> TokenRow:
        return TokenRow(int(row[0]), row[1], row[2], _dt(row[3]), None if row[4] is None else _dt(row[4]))

    async def add_token(
        self, username: str, name: str, token_hash: str, expires_at: datetime | None
    ) -> TokenRow:
        """Store an API token (by the SHA-256 of it) for an existing user."""
        now = self._now()
        async with self._write() as db:
            inserted = await db.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)"
                " SELECT id, ?, ?, ?, ? FROM users WHERE username = ?",
                (name, token_hash, now, None if expires_at is None else self._ts(expires_at), username),
            )
            if inserted == 0:
                raise InputError(f"user {username} not found")
            row = await db.fetch_one(f"{_TOKENS} WHERE k.token_hash = ?", (token_hash,))
        assert row is not None
        return self._token(row)

    async def token_user(self, token_hash: str) -> tuple[TokenRow, UserRow] | None:
        """The token stored under `token_hash` and its user as they are now, None when there is none."""
        async with self._read() as db:
            row = await db.fetch_one(
                "SELECT k.id, u.username, k.name, k.created_at, k.expires_at, u.username, u.role, a.number,"
                " u.active, u.password_hash, u.created_at, u.updated_at"
                " FROM api_tokens k JOIN users u ON u.id = k.user_id"
                " LEFT JOIN accounts a ON a.id = u.account_id"
                " WHERE k.token_hash = ?",
                (token_hash,),
            )
        return None if row is None else (self._token(row[:5]), self._user(row[5:]))

    async def list_tokens(self, username: str | None = None) -> list[TokenRow]:
        """Every token, or one user's, oldest first."""
        async with self._read() as db:
            if username is None:
                rows = await db.fetch_all(f"{_TOKENS} ORDER BY k.id")
            else:
                rows = await db.fetch_all(f"{_TOKENS} WHERE u.username = ? ORDER BY k.id", (username,))
        return [self._token(row) for row in rows]

    async def remove_token(self, token_id: int) -> bool:
        """Delete one token; False when there was none."""
        async with self._write() as db:
            return await db.execute("DELETE FROM api_tokens WHERE id = ?", (int(token_id),)) > 0

    async def web_secret(self, name: str, new_value: str) -> str:
        """The secret stored under `name`, storing `new_value` first when there is none yet."""
        async with self._write() as db:
            row = await db.fetch_one("SELECT value FROM web_secrets WHERE name = ?", (name,))
            if row is None:
                await db.execute("INSERT INTO web_secrets (name, value) VALUES (?, ?)", (name, new_value))
                return new_value
        return str(row[0])
