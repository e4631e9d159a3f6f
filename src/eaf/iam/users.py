"""Changing users: profile, status and roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from eaf.application.repository import Repository
from eaf.db.pool import Connection, Database
from eaf.errors import AlreadyExistsError, NotFoundError
from eaf.eventstore.model import RecordedEvent
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.access import AccessService
from eaf.iam.domain.rules import SUPERADMIN, check_superadmin_remains, is_uuid
from eaf.iam.domain.user import User
from eaf.iam.oauth.store import revoke_subject_tokens

log = structlog.get_logger(__name__)

# Every change that could remove the platform's last active superadmin takes
# this transaction lock before counting the others, so two such changes never
# both see the other superadmin as still there.
SUPERADMIN_LOCK_KEY = 0x4541465F53555041  # "EAF_SUPA"

# Users that were ever given superadmin: registered with it or assigned it.
_SUPERADMIN_STREAMS = """
SELECT DISTINCT stream_id FROM events
WHERE tenant_id = %(tenant)s AND stream_type = %(stream_type)s
  AND ((event_type = 'UserRegistered' AND payload->'roles' ? %(role)s)
    OR (event_type = 'UserRoleAssigned' AND payload->>'role' = %(role)s))
"""
_EVENT_COLUMNS = (
    "position, event_id, tenant_id, stream_id, stream_type, stream_version, "
    "event_type, schema_version, payload, metadata, recorded_at"
)


def user_out(user: User, created_at: datetime | None = None) -> dict[str, Any]:
    """The API form of a user."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "roles": user.roles,
        "status": user.status,
        "created_at": created_at,
    }


async def registered_at(conn: Connection, slug: str, user_id: str) -> datetime | None:
    """When the user's first event was recorded; the read model may lag behind."""
    cur = await conn.execute(
        "SELECT recorded_at FROM events WHERE tenant_id = %s AND stream_id = %s "
        "AND stream_version = 1",
        (slug, User.stream_id_for(user_id)),
    )
    row = await cur.fetchone()
    return row["recorded_at"] if row else None


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
        platform_tenant: str,
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.store = store
        self.access = access
        self.platform_tenant = platform_tenant
        self.users = Repository(store, User, snapshot_every)

    async def load(self, slug: str, user_id: str) -> User:
        """The user aggregate; ``NotFoundError`` if there is none."""
        user = await self.users.load(slug, user_id) if is_uuid(user_id) else None
        if user is None:
            raise NotFoundError(f"user {user_id!r} not found in tenant {slug!r}")
        return user

    async def get(self, slug: str, user_id: str) -> dict[str, Any]:
        """The user's current profile, roles and status."""
        return await self._out(slug, await self.load(slug, user_id))

    async def _out(self, slug: str, user: User) -> dict[str, Any]:
        async with self.db.transaction(slug) as conn:
            created_at = await registered_at(conn, slug, user.id)
        return user_out(user, created_at)

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
            return await self._out(slug, user)
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
        return await self._out(slug, user)

    async def deactivate(self, slug: str, user_id: str) -> dict[str, Any]:
        """Refuse the user's logins and end their refresh tokens.

        The platform's last active superadmin cannot be deactivated.
        """
        user = await self.load(slug, user_id)
        was_superadmin = self._is_platform_superadmin(slug, user)
        user.deactivate()
        async with self.db.transaction(slug) as conn:
            if was_superadmin:
                await self._keep_a_superadmin(conn, slug, user)
            await revoke_subject_tokens(conn, user.id)
            await self.users.save(slug, user, conn=conn)
        log.info("iam.user_deactivated", user_id=user.id)
        return await self._out(slug, user)

    async def activate(self, slug: str, user_id: str) -> dict[str, Any]:
        """Let a deactivated user log in again."""
        user = await self.load(slug, user_id)
        user.activate()
        await self.users.save(slug, user)
        return await self._out(slug, user)

    async def assign_role(self, slug: str, user_id: str, role: str) -> dict[str, Any]:
        """Give the user a built-in or custom role of the tenant."""
        await self.access.check_roles(slug, [role])
        user = await self.load(slug, user_id)
        if user.assign_role(role):
            await self.users.save(slug, user)
        return await self._out(slug, user)

    async def revoke_role(self, slug: str, user_id: str, role: str) -> dict[str, Any]:
        """Take a role from the user; never superadmin from the last one."""
        user = await self.load(slug, user_id)
        was_superadmin = self._is_platform_superadmin(slug, user)
        if user.revoke_role(role):
            async with self.db.transaction(slug) as conn:
                if was_superadmin and role == SUPERADMIN:
                    await self._keep_a_superadmin(conn, slug, user)
                await self.users.save(slug, user, conn=conn)
        return await self._out(slug, user)

    def _is_platform_superadmin(self, slug: str, user: User) -> bool:
        is_platform = slug == self.platform_tenant
        return is_platform and user.is_active and SUPERADMIN in user.roles

    async def _keep_a_superadmin(self, conn: Connection, slug: str, user: User) -> None:
        """Refuse unless another active superadmin remains besides ``user``."""
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SUPERADMIN_LOCK_KEY,))
        others = [
            other
            for other in await self._superadmins(conn, slug)
            if other.id != user.id and other.is_active
        ]
        check_superadmin_remains(user.username, len(others))

    async def _superadmins(self, conn: Connection, slug: str) -> list[User]:
        """Users of ``slug`` who hold superadmin, replayed on ``conn``.

        Replaying on the locked connection, not through the repository, reads
        what was committed before the lock was granted and needs no second
        connection from the pool while the lock is held.
        """
        params = {"tenant": slug, "stream_type": User.stream_type, "role": SUPERADMIN}
        cur = await conn.execute(_SUPERADMIN_STREAMS, params)
        stream_ids = [str(row["stream_id"]) for row in await cur.fetchall()]
        if not stream_ids:
            return []
        cur = await conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events "  # noqa: S608 - fixed columns
            "WHERE tenant_id = %s AND stream_id = ANY(%s) "
            "ORDER BY stream_id, stream_version",
            (slug, stream_ids),
        )
        prefix = User.stream_id_for("")
        replayed: dict[str, User] = {}
        for row in await cur.fetchall():
            event = self.store.upcasters.upcast(RecordedEvent(**row))
            user_id = event.stream_id.removeprefix(prefix)
            user = replayed.setdefault(user_id, User(user_id))
            user.replay(User.decode_event(event.event_type, event.payload))
        return [user for user in replayed.values() if SUPERADMIN in user.roles]
