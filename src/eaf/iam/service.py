"""IAM application service: commands and queries on tenants and users."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from eaf.application.repository import Repository
from eaf.db.pool import Connection, Database
from eaf.errors import AlreadyExistsError, NotFoundError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.access import custom_roles
from eaf.iam.adapters.keys import KeyStore
from eaf.iam.adapters.passwords import Passwords
from eaf.iam.domain.rules import PasswordPolicy, check_roles, check_slug
from eaf.iam.domain.tenant import Tenant
from eaf.iam.domain.user import User
from eaf.iam.users import registered_at, user_out


@dataclass(frozen=True)
class Principal:
    """A user who proved their identity."""

    tenant_id: str
    user_id: str
    username: str
    roles: list[str]


class UserQuota(Protocol):
    """Decides whether one more user may be created (e.g. a license limit)."""

    async def admit_user(self, conn: Connection, tenant_id: str) -> None:
        """Raise a ``DomainError`` to refuse; runs in the creating transaction."""
        ...


class IamService:
    """Creates tenants and users and answers list queries.

    Changes to existing tenants and users live in ``TenantService`` and
    ``UserService``; logins and passwords in ``CredentialService``.
    """

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        keys: KeyStore,
        *,
        platform_tenant: str = "default",
        snapshot_every: int = 50,
        user_quota: UserQuota | None = None,
        passwords: Passwords | None = None,
        password_policy: PasswordPolicy | None = None,
    ) -> None:
        self.db = db
        self.keys = keys
        self.platform_tenant = platform_tenant
        self.user_quota = user_quota
        self.passwords = passwords or Passwords()
        self.password_policy = password_policy or PasswordPolicy()
        self.tenants = Repository(store, Tenant, snapshot_every)
        self.users = Repository(store, User, snapshot_every)

    async def create_tenant(self, slug: str, name: str) -> dict[str, Any]:
        """Create a tenant with its first signing key."""
        tenant = Tenant.create(slug, name)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "INSERT INTO iam_tenants (slug, name) VALUES (%s, %s) "
                "ON CONFLICT (slug) DO NOTHING RETURNING created_at",
                (slug, tenant.name),
            )
            row = await cur.fetchone()
            if row is None:
                raise AlreadyExistsError(f"tenant {slug!r} already exists", slug=slug)
            await self.keys.create_key(conn, slug)
            await self.tenants.save(slug, tenant, conn=conn)
        return {
            "slug": slug,
            "name": tenant.name,
            "status": tenant.status,
            "created_at": row["created_at"],
        }

    async def tenant_exists(self, slug: str) -> bool:
        """Whether a tenant with this slug exists."""
        return await self._tenant_row(slug) is not None

    async def _tenant_row(self, slug: str) -> dict[str, Any] | None:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT slug, name, status, created_at FROM iam_tenants "
                "WHERE slug = %s",
                (slug,),
            )
            return await cur.fetchone()

    async def require_tenant(self, slug: str) -> dict[str, Any]:
        """The tenant's row; ``NotFoundError`` if there is none."""
        row = await self._tenant_row(check_slug(slug))
        if row is None:
            raise NotFoundError(f"tenant {slug!r} not found", slug=slug)
        return row

    async def list_tenants(self) -> list[dict[str, Any]]:
        """Every tenant, by slug."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT slug, name, status, created_at FROM iam_tenants ORDER BY slug"
            )
            return list(await cur.fetchall())

    async def create_user(
        self, slug: str, username: str, email: str, password: str, roles: list[str]
    ) -> dict[str, Any]:
        """Create a user, claiming username and email within the tenant."""
        await self.require_tenant(slug)
        self.password_policy.check(password, username)
        checked_roles = check_roles(
            roles,
            is_platform_tenant=slug == self.platform_tenant,
            custom_roles=await self.custom_role_names(slug),
        )
        user = User.register(str(uuid.uuid4()), username, email, checked_roles)
        password_hash = await asyncio.to_thread(self.passwords.hash, password)
        async with self.db.transaction(slug) as conn:
            if self.user_quota is not None:
                await self.user_quota.admit_user(conn, slug)
            await self._claim(
                conn, "iam_usernames", "username_lower", slug, username, user.id
            )
            await self._claim(conn, "iam_emails", "email_lower", slug, email, user.id)
            await conn.execute(
                "INSERT INTO iam_credentials (tenant_id, user_id, password_hash) "
                "VALUES (%s, %s, %s)",
                (slug, user.id, password_hash),
            )
            await self.users.save(slug, user, conn=conn)
        # Read after the commit: the append lock is held until then.
        async with self.db.transaction(slug) as conn:
            created_at = await registered_at(conn, slug, user.id)
        return user_out(user, created_at)

    async def _claim(
        self,
        conn: Connection,
        table: str,
        column: str,
        slug: str,
        value: str,
        user_id: str,
    ) -> None:
        """Reserve a value unique within the tenant, case-insensitively."""
        cur = await conn.execute(
            f"INSERT INTO {table} (tenant_id, {column}, user_id) "  # noqa: S608 - fixed names
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (slug, value.casefold(), user_id),
        )
        if cur.rowcount == 0:
            field = column.removesuffix("_lower")
            raise AlreadyExistsError(
                f"{field} {value!r} is already taken in tenant {slug!r}", field=field
            )

    async def custom_role_names(self, slug: str) -> list[str]:
        """Names of the tenant's custom roles."""
        async with self.db.transaction(slug) as conn:
            return sorted(await custom_roles(conn))

    async def username_exists(self, slug: str, username: str) -> bool:
        """Whether the username is taken in the tenant, ignoring case."""
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT 1 FROM iam_usernames WHERE username_lower = %s",
                (username.casefold(),),
            )
            return await cur.fetchone() is not None

    async def list_users(self, slug: str) -> list[dict[str, Any]]:
        """The tenant's users from the ``iam_users`` read model."""
        await self.require_tenant(slug)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT user_id AS id, username, email, display_name, roles, "
                "status, created_at FROM iam_users ORDER BY username"
            )
            return list(await cur.fetchall())
