"""Tenant routes: create, list, show, rename, suspend, reactivate, keys, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from eaf.http.problems import problem_responses
from eaf.http.security import Caller, require_superadmin
from eaf.iam.audit import MAX_PAGE, AuditQuery, audit_page
from eaf.iam.domain.rules import check_slug
from eaf.iam.http._common import (
    AUDIT_READ,
    KEYS_WRITE,
    TENANT_READ,
    TENANT_WRITE,
    authorize,
    iam_of,
    platform_of,
    run_in,
    services_of,
)
from eaf.iam.purge import purge_tenant

router = APIRouter(tags=["tenants"], responses=problem_responses())


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(min_length=2, max_length=63, examples=["acme"])
    name: str = Field(min_length=1, max_length=200, examples=["Acme Corp"])


class TenantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


class TenantOut(BaseModel):
    slug: str
    name: str
    status: str
    created_at: datetime | None = None


class KeyOut(BaseModel):
    kid: str
    algorithm: str
    created_at: datetime
    retired_at: datetime | None
    publish_until: datetime | None
    is_published: bool


class RotationOut(BaseModel):
    kid: str
    retired: list[str]


class AuditEntry(BaseModel):
    position: int
    event_id: str
    type: str
    stream: str
    stream_type: str
    time: datetime
    actor: str | None
    actor_tenant: str | None
    correlation_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


@router.post(
    "/api/v1/tenants",
    status_code=status.HTTP_201_CREATED,
    response_model=TenantOut,
    summary="Create a tenant (superadmin)",
)
async def create_tenant(body: TenantIn, caller: Caller, request: Request) -> Any:
    require_superadmin(caller, platform_of(request).platform_tenant)
    slug = check_slug(body.slug)
    iam = iam_of(request)
    return await run_in(caller, slug, lambda: iam.create_tenant(slug, body.name))


@router.get(
    "/api/v1/tenants",
    response_model=list[TenantOut],
    summary="List tenants (superadmin)",
)
async def list_tenants(caller: Caller, request: Request) -> Any:
    require_superadmin(caller, platform_of(request).platform_tenant)
    return await iam_of(request).list_tenants()


@router.get(
    "/api/v1/tenants/{slug}",
    response_model=TenantOut,
    summary="Show a tenant",
)
async def show_tenant(slug: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, TENANT_READ)
    return await services_of(request).tenants.get(slug)


@router.patch(
    "/api/v1/tenants/{slug}",
    response_model=TenantOut,
    summary="Rename a tenant",
)
async def rename_tenant(
    slug: str, body: TenantPatch, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, TENANT_WRITE)
    tenants = services_of(request).tenants
    return await run_in(caller, slug, lambda: tenants.rename(slug, body.name))


@router.post(
    "/api/v1/tenants/{slug}/suspend",
    response_model=TenantOut,
    summary="Suspend a tenant: its logins and tokens stop working (superadmin)",
)
async def suspend_tenant(
    slug: str, caller: Caller, request: Request, body: SuspendIn | None = None
) -> Any:
    require_superadmin(caller, platform_of(request).platform_tenant)
    tenants = services_of(request).tenants
    reason = body.reason if body else ""
    return await run_in(caller, slug, lambda: tenants.suspend(slug, reason))


@router.post(
    "/api/v1/tenants/{slug}/reactivate",
    response_model=TenantOut,
    summary="Reactivate a suspended tenant (superadmin)",
)
async def reactivate_tenant(slug: str, caller: Caller, request: Request) -> Any:
    require_superadmin(caller, platform_of(request).platform_tenant)
    tenants = services_of(request).tenants
    return await run_in(caller, slug, lambda: tenants.reactivate(slug))


@router.get(
    "/api/v1/tenants/{slug}/keys",
    response_model=list[KeyOut],
    summary="Signing keys of a tenant, newest first",
)
async def list_keys(slug: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, TENANT_READ)
    return await services_of(request).tenants.list_keys(slug)


@router.post(
    "/api/v1/tenants/{slug}/keys/rotate",
    response_model=RotationOut,
    summary="Rotate the signing key; retired keys stay published while needed",
)
async def rotate_keys(slug: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, KEYS_WRITE)
    tenants = services_of(request).tenants
    return await run_in(caller, slug, lambda: tenants.rotate_keys(slug))


@router.get(
    "/api/v1/tenants/{slug}/audit",
    response_model=AuditPage,
    summary="The tenant's audit trail from its events, oldest first",
)
async def audit(
    slug: str,
    caller: Caller,
    request: Request,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    event_type: Annotated[list[str] | None, Query(alias="type", max_length=20)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Any:
    authorize(caller, request, slug, AUDIT_READ)
    await services_of(request).tenants.get(slug)
    query = AuditQuery(
        actor=actor,
        event_types=tuple(event_type or ()),
        since=since,
        until=until,
        after=cursor,
        limit=limit,
    )
    return await audit_page(platform_of(request).db, slug, query)


class PurgeOut(BaseModel):
    """Rows deleted, per kind of protocol state."""

    refresh_tokens: int
    authorization_codes: int
    reset_tokens: int
    revoked_tokens: int
    login_failures: int


@router.post(
    "/api/v1/tenants/{slug}/purge-expired",
    response_model=PurgeOut,
    summary="Delete a tenant's expired tokens, codes and counters (superadmin)",
)
async def purge_expired(slug: str, caller: Caller, request: Request) -> Any:
    require_superadmin(caller, platform_of(request).platform_tenant)
    services = services_of(request)
    await services.tenants.get(slug)
    counts = await purge_tenant(platform_of(request).db, slug, services.purge_policy)
    return {table.removeprefix("iam_"): count for table, count in counts.items()}
