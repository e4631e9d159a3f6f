"""Access control of a tenant: custom roles, service accounts, browser clients."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from eaf.application.repository import Repository
from eaf.db.pool import Connection, Database
from eaf.errors import AlreadyExistsError, NotFoundError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.adapters.passwords import digest_secret, new_secret, secret_matches
from eaf.iam.domain.clients import BrowserClient, ServiceAccount
from eaf.iam.domain.role import Role
from eaf.iam.domain.rules import (
    BUILT_IN_PERMISSIONS,
    InvalidInputError,
    check_role_name,
    check_roles,
    permissions_of,
)
from eaf.iam.principals import SERVICE_ACCOUNT_SUBJECT

CLI_CLIENT_ID = "eaf-cli"
_CLIENT_ID = re.compile(r"^[a-z][a-z0-9-]{2,62}\Z")

# Creating service accounts takes this transaction lock (with the tenant) so
# that two requests for one name cannot both find it free.
# TODO: a unique index on (tenant_id, lower(name)) would enforce this in the
# schema; it needs a migration that first renames existing duplicates.
ACCOUNT_NAME_LOCK = 0x45414653  # "EAFS", paired with a hash of the tenant


@dataclass(frozen=True)
class ServiceAccountPrincipal:
    """A service account that proved its secret, with what its roles grant."""

    tenant_id: str
    account_id: str
    client_id: str
    name: str
    roles: list[str]
    permissions: list[str]

    @property
    def subject(self) -> str:
        """The ``sub`` claim of the account's tokens."""
        return SERVICE_ACCOUNT_SUBJECT + self.account_id


async def custom_roles(conn: Connection) -> dict[str, list[str]]:
    """The custom roles of the connection's tenant, with their permissions."""
    cur = await conn.execute("SELECT name, permissions FROM iam_roles")
    return {str(row["name"]): list(row["permissions"]) for row in await cur.fetchall()}


class AccessService:
    """Roles, service accounts and browser clients; lookups for the token endpoint."""

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        *,
        platform_tenant: str,
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.platform_tenant = platform_tenant
        self.roles = Repository(store, Role, snapshot_every)
        self.accounts = Repository(store, ServiceAccount, snapshot_every)
        self.clients = Repository(store, BrowserClient, snapshot_every)

    # --- roles --------------------------------------------------------------

    async def define_role(
        self, slug: str, name: str, permissions: list[str], description: str = ""
    ) -> dict[str, Any]:
        """Define a custom role in ``slug``; a deleted role's name may be reused."""
        role = await self.roles.load(slug, check_role_name(name)) or Role(name)
        role.define(description, permissions)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "INSERT INTO iam_roles (tenant_id, name, description, permissions) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (slug, name, role.description, Jsonb(role.permissions)),
            )
            if cur.rowcount == 0:
                raise AlreadyExistsError(f"role {name!r} already exists", role=name)
            await self.roles.save(slug, role, conn=conn)
        return self._role_out(role)

    async def change_role(
        self, slug: str, name: str, permissions: list[str]
    ) -> dict[str, Any]:
        """Replace a custom role's permissions."""
        role = await self._load_role(slug, name)
        if role.change_permissions(permissions):
            async with self.db.transaction(slug) as conn:
                await conn.execute(
                    "UPDATE iam_roles SET permissions = %s WHERE name = %s",
                    (Jsonb(role.permissions), name),
                )
                await self.roles.save(slug, role, conn=conn)
        return self._role_out(role)

    async def delete_role(self, slug: str, name: str) -> None:
        """Delete a custom role; users keep its name but it grants nothing."""
        role = await self._load_role(slug, name)
        role.delete()
        async with self.db.transaction(slug) as conn:
            await conn.execute("DELETE FROM iam_roles WHERE name = %s", (name,))
            await self.roles.save(slug, role, conn=conn)

    async def _load_role(self, slug: str, name: str) -> Role:
        role = await self.roles.load(slug, name) if _is_role_name(name) else None
        if role is None or not role.is_defined:
            raise NotFoundError(f"role {name!r} not found in tenant {slug!r}")
        return role

    def _role_out(self, role: Role) -> dict[str, Any]:
        return {
            "name": role.id,
            "description": role.description,
            "permissions": role.permissions,
            "built_in": False,
        }

    async def list_roles(self, slug: str) -> list[dict[str, Any]]:
        """Built-in roles first, then the tenant's custom roles by name."""
        built_in = [
            {
                "name": name,
                "description": "built-in",
                "permissions": sorted(granted),
                "built_in": True,
            }
            for name, granted in sorted(BUILT_IN_PERMISSIONS.items())
        ]
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT name, description, permissions, false AS built_in "
                "FROM iam_roles ORDER BY name"
            )
            return built_in + list(await cur.fetchall())

    async def permissions_for(self, slug: str, roles: Iterable[str]) -> list[str]:
        """The effective permissions of someone holding ``roles`` in ``slug``."""
        async with self.db.transaction(slug) as conn:
            return permissions_of(roles, await custom_roles(conn))

    async def check_roles(self, slug: str, roles: Iterable[str]) -> list[str]:
        """Validate role names against built-in and the tenant's custom roles."""
        async with self.db.transaction(slug) as conn:
            names = await custom_roles(conn)
        return check_roles(
            roles, is_platform_tenant=slug == self.platform_tenant, custom_roles=names
        )

    # --- service accounts ---------------------------------------------------

    async def create_service_account(
        self, slug: str, name: str, roles: list[str]
    ) -> dict[str, Any]:
        """Create an account; the answer holds the only copy of its secret."""
        checked = await self.check_roles(slug, roles)
        client_id = f"sa-{secrets.token_hex(10)}"
        account = ServiceAccount.create(str(uuid.uuid4()), name, client_id, checked)
        secret = new_secret()
        async with self.db.transaction(slug) as conn:
            await _claim_account_name(conn, slug, account.name)
            cur = await conn.execute(
                "INSERT INTO iam_service_accounts (tenant_id, client_id, account_id, "
                "name, roles, secret_hash) VALUES (%s, %s, %s, %s, %s, %s) "
                "RETURNING created_at",
                (
                    slug,
                    client_id,
                    account.id,
                    account.name,
                    Jsonb(checked),
                    digest_secret(secret),
                ),
            )
            row = await cur.fetchone()
            await self.accounts.save(slug, account, conn=conn)
        out = self._account_out(account, row["created_at"] if row else None)
        return {**out, "client_secret": secret}

    async def rotate_secret(self, slug: str, account_id: str) -> dict[str, Any]:
        """Replace the secret at once; the old one stops working."""
        account = await self._load_account(slug, account_id)
        account.rotate_secret()
        secret = new_secret()
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "UPDATE iam_service_accounts SET secret_hash = %s, rotated_at = now() "
                "WHERE account_id = %s RETURNING created_at",
                (digest_secret(secret), account.id),
            )
            row = await cur.fetchone()
            await self.accounts.save(slug, account, conn=conn)
        out = self._account_out(account, row["created_at"] if row else None)
        return {**out, "client_secret": secret}

    async def delete_service_account(self, slug: str, account_id: str) -> None:
        """Delete an account; its secret stops working at once."""
        account = await self._load_account(slug, account_id)
        account.delete()
        async with self.db.transaction(slug) as conn:
            await conn.execute(
                "DELETE FROM iam_service_accounts WHERE account_id = %s", (account.id,)
            )
            await self.accounts.save(slug, account, conn=conn)

    async def _load_account(self, slug: str, account_id: str) -> ServiceAccount:
        account = await self.accounts.load(slug, account_id)
        if account is None or account.status != "active":
            raise NotFoundError(f"service account {account_id!r} not found")
        return account

    def _account_out(
        self, account: ServiceAccount, created_at: datetime | None
    ) -> dict[str, Any]:
        return {
            "id": account.id,
            "name": account.name,
            "client_id": account.client_id,
            "roles": account.roles,
            "created_at": created_at,
        }

    async def list_service_accounts(self, slug: str) -> list[dict[str, Any]]:
        """The tenant's service accounts, without secrets."""
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT account_id AS id, name, client_id, roles, created_at, "
                "rotated_at FROM iam_service_accounts ORDER BY name, client_id"
            )
            return list(await cur.fetchall())

    async def authenticate_service_account(
        self, slug: str, client_id: str, secret: str
    ) -> ServiceAccountPrincipal | None:
        """The account if ``secret`` is its current secret, else None."""
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT account_id, name, roles, secret_hash FROM "
                "iam_service_accounts WHERE client_id = %s AND status = 'active'",
                (client_id,),
            )
            row = await cur.fetchone()
            if row is None or not secret_matches(secret, str(row["secret_hash"])):
                return None
            permissions = permissions_of(row["roles"], await custom_roles(conn))
        return ServiceAccountPrincipal(
            slug,
            str(row["account_id"]),
            client_id,
            str(row["name"]),
            row["roles"],
            permissions,
        )

    # --- browser clients ----------------------------------------------------

    async def register_client(
        self,
        slug: str,
        name: str,
        redirect_uris: list[str],
        client_id: str | None = None,
    ) -> dict[str, Any]:
        """Register a public browser client with its redirect URIs."""
        client_id = client_id or f"app-{secrets.token_hex(8)}"
        if not _CLIENT_ID.match(client_id) or client_id == CLI_CLIENT_ID:
            raise InvalidInputError(
                f"client id {client_id!r} is invalid or reserved", field="client_id"
            )
        client = BrowserClient.register(client_id, name, redirect_uris)
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "INSERT INTO iam_clients (tenant_id, client_id, name, redirect_uris) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (slug, client_id, client.name, Jsonb(client.redirect_uris)),
            )
            if cur.rowcount == 0:
                raise AlreadyExistsError(f"client {client_id!r} already exists")
            await self.clients.save(slug, client, conn=conn)
        return {
            "client_id": client_id,
            "name": client.name,
            "redirect_uris": client.redirect_uris,
        }

    async def remove_client(self, slug: str, client_id: str) -> None:
        """Remove a browser client; its codes and refresh tokens stop working."""
        client = await self.clients.load(slug, client_id)
        if client is None:
            raise NotFoundError(f"client {client_id!r} not found")
        client.remove()
        async with self.db.transaction(slug) as conn:
            await conn.execute(
                "DELETE FROM iam_clients WHERE client_id = %s", (client_id,)
            )
            await self.clients.save(slug, client, conn=conn)

    async def list_clients(self, slug: str) -> list[dict[str, Any]]:
        """The tenant's browser clients."""
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT client_id, name, redirect_uris FROM iam_clients "
                "ORDER BY client_id"
            )
            return list(await cur.fetchall())

    async def find_client(self, slug: str, client_id: str) -> dict[str, Any] | None:
        """A browser client by id, or None."""
        async with self.db.transaction(slug) as conn:
            cur = await conn.execute(
                "SELECT client_id, name, redirect_uris FROM iam_clients "
                "WHERE client_id = %s",
                (client_id,),
            )
            return await cur.fetchone()


async def _claim_account_name(conn: Connection, slug: str, name: str) -> None:
    """Refuse ``name`` if another service account of ``slug`` has it, any case."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%s::integer, hashtext(%s))",
        (ACCOUNT_NAME_LOCK, slug),
    )
    cur = await conn.execute(
        "SELECT 1 FROM iam_service_accounts WHERE lower(name) = lower(%s)", (name,)
    )
    if await cur.fetchone() is not None:
        raise AlreadyExistsError(
            f"a service account named {name!r} already exists in tenant {slug!r}",
            field="name",
        )


def _is_role_name(name: str) -> bool:
    try:
        check_role_name(name)
    except InvalidInputError:
        return False
    return True
