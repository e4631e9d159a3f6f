"""Logins and passwords: authentication with lockout, changes and resets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from eaf.application.repository import Repository
from eaf.db.pool import Connection, Database
from eaf.errors import AuthenticationError, DomainError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.adapters.mail import MailSender, Message
from eaf.iam.adapters.passwords import Passwords, digest_secret, new_secret
from eaf.iam.domain.rules import USERNAME, InvalidInputError, PasswordPolicy, is_uuid
from eaf.iam.domain.user import PasswordChange, User
from eaf.iam.oauth.store import revoke_subject_tokens
from eaf.iam.service import Principal
from eaf.iam.tokens import TenantStatusCache
from eaf.iam.users import user_id_by_name

log = structlog.get_logger(__name__)

INVALID_LOGIN = "invalid username or password"


class AccountLockedError(AuthenticationError):
    """Too many failed logins for this username; wait for the window to pass."""

    status = 429
    code = "account-locked"


class InvalidResetTokenError(DomainError):
    """The reset token is unknown, used up or expired."""

    status = 400
    code = "invalid-reset-token"


@dataclass(frozen=True)
class LockoutPolicy:
    """``threshold`` failures within ``window_s`` lock the username for ``window_s``.

    ``address_threshold`` failures from one client address within the window
    (whatever the usernames) block that address likewise; 0 turns that off.
    """

    threshold: int = 5
    window_s: float = 300.0
    address_threshold: int = 0


# Failure counters of client addresses share the table with usernames' ones;
# no valid username starts with "@", so the keys cannot collide.
ADDRESS_KEY_PREFIX = "@address:"


_RECORD_FAILURE = """
INSERT INTO iam_login_failures AS f
    (tenant_id, username_lower, failures, first_failed_at, locked_until)
VALUES (current_setting('eaf.tenant_id'), %(username)s, 1, now(),
        CASE WHEN %(threshold)s <= 1 THEN now() + %(window)s END)
ON CONFLICT (tenant_id, username_lower) DO UPDATE SET
    failures = CASE WHEN f.first_failed_at <= now() - %(window)s
                    THEN 1 ELSE f.failures + 1 END,
    first_failed_at = CASE WHEN f.first_failed_at <= now() - %(window)s
                           THEN now() ELSE f.first_failed_at END,
    locked_until = CASE
        WHEN (CASE WHEN f.first_failed_at <= now() - %(window)s
                   THEN 1 ELSE f.failures + 1 END) >= %(threshold)s
        THEN now() + %(window)s END
RETURNING failures, locked_until
"""


class CredentialService:
    """Checks passwords, throttles guessing, and changes or resets passwords."""

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        status_cache: TenantStatusCache,
        mail: MailSender,
        *,
        passwords: Passwords,
        policy: PasswordPolicy,
        lockout: LockoutPolicy,
        reset_ttl_s: int,
        reset_url_for: Callable[[str], str],
        reset_interval_s: int = 60,
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.status_cache = status_cache
        self.mail = mail
        self.passwords = passwords
        self.policy = policy
        self.lockout = lockout
        self.reset_ttl_s = reset_ttl_s
        self.reset_url_for = reset_url_for
        self.reset_interval_s = reset_interval_s
        self.users = Repository(store, User, snapshot_every)

    async def authenticate(
        self, slug: str, username: str, password: str, client_ip: str | None = None
    ) -> Principal:
        """The user behind ``username`` and ``password``, if they may log in.

        Raises:
            AccountLockedError: too many recent failures for this username or
                from this client address.
            AuthenticationError: anything else; the reason is not revealed.
        """
        if await self.status_cache.status(slug) != "active":
            raise AuthenticationError(INVALID_LOGIN)
        key = username.casefold() if USERNAME.match(username) else None
        address = self._address_key(client_ip)
        async with self.db.transaction(slug) as conn:
            await self._refuse_if_locked(conn, slug, key, address)
            cur = await conn.execute(
                "SELECT c.user_id, c.password_hash FROM iam_usernames u "
                "JOIN iam_credentials c ON c.tenant_id = u.tenant_id "
                "AND c.user_id = u.user_id WHERE u.username_lower = %s",
                (key,),
            )
            row = await cur.fetchone()
        stored_hash = str(row["password_hash"]) if row else None
        is_valid = await asyncio.to_thread(self.passwords.verify, stored_hash, password)
        user_id = str(row["user_id"]) if row else None
        if not is_valid or user_id is None or key is None:
            if address is not None:
                await self._record_address_failure(slug, address)
            if key is not None:
                await self._record_failure(slug, key, user_id)
            raise AuthenticationError(INVALID_LOGIN)
        user = await self.users.load(slug, user_id)
        if user is None or not user.is_active:
            raise AuthenticationError(INVALID_LOGIN)
        await self._after_success(slug, key, user_id, password, str(stored_hash))
        return Principal(slug, user.id, user.username, user.roles)

    def _address_key(self, client_ip: str | None) -> str | None:
        if not client_ip or self.lockout.address_threshold <= 0:
            return None
        return ADDRESS_KEY_PREFIX + client_ip

    async def _refuse_if_locked(
        self, conn: Connection, slug: str, key: str | None, address: str | None
    ) -> None:
        if address is not None and await self._is_locked(conn, address):
            raise AccountLockedError(
                "too many failed logins from this address; try again later",
                tenant=slug,
            )
        if key is not None and await self._is_locked(conn, key):
            raise AccountLockedError(
                "too many failed logins; try again later", tenant=slug
            )

    async def _is_locked(self, conn: Connection, key: str) -> bool:
        cur = await conn.execute(
            "SELECT locked_until > now() AS is_locked FROM iam_login_failures "
            "WHERE username_lower = %s",
            (key,),
        )
        row = await cur.fetchone()
        return bool(row and row["is_locked"])

    async def _count_failure(
        self, slug: str, key: str, threshold: int
    ) -> dict[str, Any] | None:
        """Add a failure to ``key``'s counter; its failures and lock."""
        window = timedelta(seconds=self.lockout.window_s)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                _RECORD_FAILURE,
                {"username": key, "threshold": threshold, "window": window},
            )
            return await cur.fetchone()

    async def _record_address_failure(self, slug: str, address: str) -> None:
        threshold = self.lockout.address_threshold
        row = await self._count_failure(slug, address, threshold)
        if row is not None and row["failures"] == threshold:
            log.warning("iam.login_address_blocked", failures=row["failures"])

    async def _record_failure(self, slug: str, key: str, user_id: str | None) -> None:
        row = await self._count_failure(slug, key, self.lockout.threshold)
        if row is None or row["failures"] != self.lockout.threshold:
            return
        log.warning("iam.login_locked", failures=row["failures"])
        user = await self.users.load(slug, user_id) if user_id else None
        if user is not None:
            user.lock_out(row["failures"], row["locked_until"])
            await self.users.save(slug, user)

    async def _after_success(
        self, slug: str, key: str, user_id: str, password: str, stored_hash: str
    ) -> None:
        new_hash = None
        if self.passwords.needs_rehash(stored_hash):
            new_hash = await asyncio.to_thread(self.passwords.hash, password)
        async with self.db.transaction(slug) as conn:
            await conn.execute(
                "DELETE FROM iam_login_failures WHERE username_lower = %s", (key,)
            )
            if new_hash is not None:
                await conn.execute(
                    "UPDATE iam_credentials SET password_hash = %s WHERE user_id = %s",
                    (new_hash, user_id),
                )

    async def change_password(
        self, slug: str, user_id: str, old_password: str, new_password: str
    ) -> None:
        """The user's own change: the current password must be given."""
        user = await self._load(slug, user_id)
        key = user.username.casefold()
        async with self.db.transaction(slug) as conn:
            if await self._is_locked(conn, key):
                raise AccountLockedError("too many failed attempts; try again later")
            cur = await conn.execute(
                "SELECT password_hash FROM iam_credentials WHERE user_id = %s",
                (user.id,),
            )
            row = await cur.fetchone()
        stored = str(row["password_hash"]) if row else None
        if not await asyncio.to_thread(self.passwords.verify, stored, old_password):
            await self._record_failure(slug, key, user.id)
            raise InvalidInputError(
                "the current password is wrong", field="old_password"
            )
        await self._set_password(slug, user, new_password, "self")

    async def set_password(self, slug: str, user_id: str, new_password: str) -> None:
        """An administrator's reset; no old password needed."""
        user = await self._load(slug, user_id)
        await self._set_password(slug, user, new_password, "admin")

    async def _load(self, slug: str, user_id: str) -> User:
        user = await self.users.load(slug, user_id) if is_uuid(user_id) else None
        if user is None:
            raise InvalidInputError(f"user {user_id!r} not found", field="user_id")
        return user

    async def _set_password(
        self,
        slug: str,
        user: User,
        password: str,
        method: PasswordChange,
        conn_step: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> None:
        self.policy.check(password, user.username)
        password_hash = await asyncio.to_thread(self.passwords.hash, password)
        user.change_password(method)
        async with self.db.transaction(slug) as conn:
            if conn_step is not None:
                await conn_step(conn)
            await conn.execute(
                "UPDATE iam_credentials SET password_hash = %s, updated_at = now() "
                "WHERE user_id = %s",
                (password_hash, user.id),
            )
            await conn.execute(
                "DELETE FROM iam_login_failures WHERE username_lower = %s",
                (user.username.casefold(),),
            )
            await revoke_subject_tokens(conn, user.id)
            await self.users.save(slug, user, conn=conn)
        log.info("iam.password_changed", user_id=user.id, method=method)

    async def request_reset(self, slug: str, username_or_email: str) -> None:
        """Send a single-use reset link if such an active user exists.

        The caller learns nothing either way, so the answer cannot be used to
        find out which accounts exist. A user gets at most one link per
        ``reset_interval_s``; further requests are dropped just as silently,
        so nobody can flood a mailbox through this endpoint.
        """
        if await self.status_cache.status(slug) != "active":
            return
        async with self.db.transaction(slug) as conn:
            user_id = await user_id_by_name(conn, username_or_email)
        user = await self.users.load(slug, user_id) if user_id else None
        if user is None or not user.is_active:
            return
        token = new_secret()
        expires_at = datetime.now(UTC) + timedelta(seconds=self.reset_ttl_s)
        user.request_password_reset(expires_at)
        async with self.db.transaction(slug) as conn:
            if await self._was_reset_sent_lately(conn, user.id):
                log.info("iam.password_reset_throttled", user_id=user.id)
                return
            await conn.execute(
                "INSERT INTO iam_reset_tokens (tenant_id, token_hash, user_id, "
                "expires_at) VALUES (current_setting('eaf.tenant_id'), %s, %s, %s)",
                (digest_secret(token), user.id, expires_at),
            )
            await self.users.save(slug, user, conn=conn)
        await self.mail.send(self._reset_message(slug, user, token, expires_at))

    async def _was_reset_sent_lately(self, conn: Connection, user_id: str) -> bool:
        # Locking the user's credentials row makes concurrent requests for one
        # user queue here, so only the first of a burst sends a link.
        await conn.execute(
            "SELECT 1 FROM iam_credentials WHERE user_id = %s FOR UPDATE",
            (user_id,),
        )
        cur = await conn.execute(
            "SELECT 1 FROM iam_reset_tokens WHERE user_id = %s "
            "AND created_at > clock_timestamp() - make_interval(secs => %s) LIMIT 1",
            (user_id, self.reset_interval_s),
        )
        return await cur.fetchone() is not None

    def _reset_message(
        self, slug: str, user: User, token: str, expires_at: datetime
    ) -> Message:
        link = f"{self.reset_url_for(slug)}?token={token}"
        body = (
            f"Someone asked to reset the password of {user.username} in {slug}.\n"
            f"Open {link} before {expires_at:%Y-%m-%d %H:%M} UTC to choose a new "
            "one. The link works once. If this was not you, ignore this message.\n"
            f"Reset token: {token}\n"
        )
        return Message(slug, user.email, "Reset your password", body)

    async def confirm_reset(self, slug: str, token: str, new_password: str) -> None:
        """Set a new password with a reset token; the token is then used up."""
        token_hash = digest_secret(token)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT user_id FROM iam_reset_tokens WHERE token_hash = %s "
                "AND used_at IS NULL AND expires_at > now()",
                (token_hash,),
            )
            row = await cur.fetchone()
        if row is None:
            raise InvalidResetTokenError("the reset token is invalid, used or expired")
        user = await self._load(slug, str(row["user_id"]))

        async def use_token(conn: Connection) -> None:
            cur = await conn.execute(
                "UPDATE iam_reset_tokens SET used_at = now() WHERE token_hash = %s "
                "AND used_at IS NULL AND expires_at > now() RETURNING user_id",
                (token_hash,),
            )
            if await cur.fetchone() is None:
                raise InvalidResetTokenError("the reset token was used meanwhile")
            await conn.execute(
                "UPDATE iam_reset_tokens SET used_at = now() "
                "WHERE user_id = %s AND used_at IS NULL",
                (user.id,),
            )

        await self._set_password(slug, user, new_password, "reset", use_token)
