"""IAM application service: commands and queries on tenants and users."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from eaf.application.repository import Repository
from eaf.db.pool import Connection, Database
from eaf.errors import AlreadyExistsError, AuthenticationError, NotFoundError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.adapters.keys import KeyStore
from eaf.iam.adapters.passwords import hash_password, verify_password
from eaf.iam.domain.rules import check_password, check_roles, check_slug
from eaf.iam.domain.tenant import Tenant
from eaf.iam.domain.user import User


@dataclass(frozen=True)
class Principal:
    """A user who proved their identity."""

    tenant_id: str
    user_id: str
    username: str
    roles: list[str]


class IamService:
    """Creates tenants and users, authenticates, and answers list queries."""

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        keys: KeyStore,
        *,
        platform_tenant: str = "default",
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.keys = keys
        self.platform_tenant = platform_tenant
        self.tenants = Repository(store, Tenant, snapshot_every)
        self.users = Repository(store, User, snapshot_every)

    async def create_tenant(self, slug: str, name: str) -> dict[str, Any]:
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
        row = await self._tenant_row(check_slug(slug))
        if row is None:
            raise NotFoundError(f"tenant {slug!r} not found", slug=slug)
        return row

    async def list_tenants(self) -> list[dict[str, Any]]:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT slug, name, status, created_at FROM iam_tenants ORDER BY slug"
            )
            return list(await cur.fetchall())

    async def create_user(
        self, slug: str, username: str, email: str, password: str, roles: list[str]
    ) -> dict[str, Any]:
        await self.require_tenant(slug)
        check_password(password, username)
        checked_roles = check_roles(
            roles, is_platform_tenant=slug == self.platform_tenant
        )
        user = User.register(str(uuid.uuid4()), username, email, checked_roles)
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self.db.transaction(slug) as conn:
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
        return {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "roles": user.roles,
            "status": user.status,
        }

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

    async def authenticate(self, slug: str, username: str, password: str) -> Principal:
        tenant = await self._tenant_row(slug)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT c.user_id, c.password_hash FROM iam_usernames u "
                "JOIN iam_credentials c ON c.tenant_id = u.tenant_id "
                "AND c.user_id = u.user_id WHERE u.username_lower = %s",
                (username.casefold(),),
            )
            row = await cur.fetchone()
        stored_hash = str(row["password_hash"]) if row else None
        is_valid = await asyncio.to_thread(verify_password, stored_hash, password)
        if (
            not is_valid
            or row is None
            or tenant is None
            or tenant["status"] != "active"
        ):
            raise AuthenticationError("invalid username or password")
        user = await self.users.load(slug, str(row["user_id"]))
        if user is None or user.status != "active":
            raise AuthenticationError("invalid username or password")
        return Principal(slug, user.id, user.username, user.roles)

    async def username_exists(self, slug: str, username: str) -> bool:
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT 1 FROM iam_usernames WHERE username_lower = %s",
                (username.casefold(),),
            )
            return await cur.fetchone() is not None

    async def list_users(self, slug: str) -> list[dict[str, Any]]:
        await self.require_tenant(slug)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT user_id AS id, username, email, roles, status, created_at "
                "FROM iam_users ORDER BY username"
            )
            return list(await cur.fetchall())
