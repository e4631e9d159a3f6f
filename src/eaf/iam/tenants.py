"""Changing tenants: rename, suspend, reactivate, rotate signing keys."""

from __future__ import annotations

from typing import Any

import structlog

from eaf.application.repository import Repository
from eaf.db.pool import Database
from eaf.errors import NotFoundError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.adapters.keys import KeyStore
from eaf.iam.domain.rules import check_slug
from eaf.iam.domain.tenant import Tenant
from eaf.iam.tokens import TenantStatusCache

log = structlog.get_logger(__name__)


class TenantService:
    """Commands on existing tenants; ``iam_tenants`` follows in the same commit."""

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        keys: KeyStore,
        status_cache: TenantStatusCache,
        *,
        platform_tenant: str,
        key_publish_s: int,
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.keys = keys
        self.status_cache = status_cache
        self.platform_tenant = platform_tenant
        self.key_publish_s = key_publish_s
        self.tenants = Repository(store, Tenant, snapshot_every)

    async def get(self, slug: str) -> dict[str, Any]:
        """The tenant's current row."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT slug, name, status, created_at FROM iam_tenants "
                "WHERE slug = %s",
                (check_slug(slug),),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"tenant {slug!r} not found", slug=slug)
        return row

    async def _load(self, slug: str) -> Tenant:
        tenant = await self.tenants.load(slug, check_slug(slug))
        if tenant is None:
            raise NotFoundError(f"tenant {slug!r} not found", slug=slug)
        return tenant

    async def rename(self, slug: str, name: str) -> dict[str, Any]:
        """Change the display name; the slug never changes."""
        tenant = await self._load(slug)
        tenant.rename(name)
        await self._save(tenant)
        return await self.get(slug)

    async def suspend(self, slug: str, reason: str = "") -> dict[str, Any]:
        """Refuse the tenant's logins and tokens from now on."""
        tenant = await self._load(slug)
        tenant.suspend(reason, is_platform_tenant=slug == self.platform_tenant)
        await self._save(tenant)
        log.info("iam.tenant_suspended", slug=slug)
        return await self.get(slug)

    async def reactivate(self, slug: str) -> dict[str, Any]:
        """Let a suspended tenant log in again."""
        tenant = await self._load(slug)
        tenant.reactivate()
        await self._save(tenant)
        log.info("iam.tenant_reactivated", slug=slug)
        return await self.get(slug)

    async def _save(self, tenant: Tenant) -> None:
        async with self.db.transaction(tenant.id) as conn:
            await conn.execute(
                "UPDATE iam_tenants SET name = %s, status = %s WHERE slug = %s",
                (tenant.name, tenant.status, tenant.id),
            )
            await self.tenants.save(tenant.id, tenant, conn=conn)
        self.status_cache.invalidate(tenant.id)

    async def rotate_keys(self, slug: str) -> dict[str, Any]:
        """A new signing key; old ones stay published until their tokens expire."""
        tenant = await self._load(slug)
        async with self.db.transaction(slug) as conn:
            kid, retired = await self.keys.rotate(conn, slug, self.key_publish_s)
            tenant.record_key_rotation(kid, retired)
            await self.tenants.save(slug, tenant, conn=conn)
        self.keys.forget(slug)
        log.info("iam.signing_key_rotated", slug=slug, kid=kid)
        return {"kid": kid, "retired": retired}

    async def list_keys(self, slug: str) -> list[dict[str, Any]]:
        """The tenant's signing keys with their dates."""
        await self.get(slug)
        return await self.keys.list_keys(slug)
