"""Changing users: profile, status and roles."""

from __future__ import annotations

from typing import Any

import structlog

from eaf.application.repository import Repository
from eaf.db.pool import Connection, Database
from eaf.errors import AlreadyExistsError, NotFoundError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.access import AccessService
from eaf.iam.domain.rules import is_uuid
from eaf.iam.domain.user import User
from eaf.iam.oauth.store import revoke_subject_tokens

log = structlog.get_logger(__name__)


def user_out(user: User) -> dict[str, Any]:
    """The API form of a user."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "roles": user.roles,
        "status": user.status,
    }


async def user_id_by_name(conn: Connection, username_or_email: str) -> str | None:
    """The id of the user with this username, or else this email, ignoring case."""
    key = username_or_email.casefold()
    cur = await conn.execute(
        "SELECT user_id FROM iam_usernames WHERE username_lower = %s "
        "UNION ALL SELECT user_id FROM iam_emails WHERE email_lower = %s LIMIT 1",
        (key, key),
    )
    row = await cur.fetchone()
    return str(row["user_id"]) if row else None


async def move_claim(
    conn: Connection,
    table: str,
    column: str,
    old_value: str,
    new_value: str,
    user_id: str,
) -> None:
    """Release the user's old unique value and claim the new one, or fail."""
    if old_value.casefold() == new_value.casefold():
        return
    # Table and column names are constants of this module, never input.
    release = f"DELETE FROM {table} WHERE {column} = %s AND user_id = %s"  # noqa: S608
    claim = (
        f"INSERT INTO {table} (tenant_id, {column}, user_id) "  # noqa: S608
        "VALUES (current_setting('eaf.tenant_id'), %s, %s) ON CONFLICT DO NOTHING"
    )
    await conn.execute(release, (old_value.casefold(), user_id))
    cur = await conn.execute(claim, (new_value.casefold(), user_id))
    if cur.rowcount == 0:
        field = column.removesuffix("_lower")
        raise AlreadyExistsError(f"{field} {new_value!r} is already taken", field=field)


class UserService:
    """Commands on existing users; uniqueness claims move in the same commit."""

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        access: AccessService,
        *,
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.access = access
        self.users = Repository(store, User, snapshot_every)

    async def load(self, slug: str, user_id: str) -> User:
        """The user aggregate; ``NotFoundError`` if there is none."""
        user = await self.users.load(slug, user_id) if is_uuid(user_id) else None
        if user is None:
            raise NotFoundError(f"user {user_id!r} not found in tenant {slug!r}")
        return user

    async def get(self, slug: str, user_id: str) -> dict[str, Any]:
        """The user's current profile, roles and status."""
        return user_out(await self.load(slug, user_id))

    async def update_profile(
        self,
        slug: str,
        user_id: str,
        *,
        username: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Change username, email or display name; claims move along."""
        user = await self.load(slug, user_id)
        old_username, old_email = user.username, user.email
        if not user.update_profile(
            username=username, email=email, display_name=display_name
        ):
            return user_out(user)
        async with self.db.transaction(slug) as conn:
            await move_claim(
                conn,
                "iam_usernames",
                "username_lower",
                old_username,
                user.username,
                user.id,
            )
            await move_claim(
                conn, "iam_emails", "email_lower", old_email, user.email, user.id
            )
            await self.users.save(slug, user, conn=conn)
        return user_out(user)

    async def deactivate(self, slug: str, user_id: str) -> dict[str, Any]:
        """Refuse the user's logins and end their refresh tokens."""
        user = await self.load(slug, user_id)
        user.deactivate()
        async with self.db.transaction(slug) as conn:
            await revoke_subject_tokens(conn, user.id)
            await self.users.save(slug, user, conn=conn)
        log.info("iam.user_deactivated", user_id=user.id)
        return user_out(user)

    async def activate(self, slug: str, user_id: str) -> dict[str, Any]:
        """Let a deactivated user log in again."""
        user = await self.load(slug, user_id)
        user.activate()
        await self.users.save(slug, user)
        return user_out(user)

    async def assign_role(self, slug: str, user_id: str, role: str) -> dict[str, Any]:
        """Give the user a built-in or custom role of the tenant."""
        await self.access.check_roles(slug, [role])
        user = await self.load(slug, user_id)
        if user.assign_role(role):
            await self.users.save(slug, user)
        return user_out(user)

    async def revoke_role(self, slug: str, user_id: str, role: str) -> dict[str, Any]:
        """Take a role from the user."""
        user = await self.load(slug, user_id)
        if user.revoke_role(role):
            await self.users.save(slug, user)
        return user_out(user)
