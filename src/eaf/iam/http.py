"""IAM over HTTP: the admin API and each tenant's OpenID Connect endpoints."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from eaf.application.commands import run_command
from eaf.context import ExecutionContext
from eaf.errors import AuthenticationError, NotFoundError
from eaf.http.security import Caller, require_superadmin, require_tenant_admin
from eaf.iam.domain.rules import check_slug

router = APIRouter()


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(min_length=2, max_length=63, examples=["acme"])
    name: str = Field(min_length=1, max_length=200, examples=["Acme Corp"])


class TenantOut(BaseModel):
    slug: str
    name: str
    status: str
    created_at: datetime | None = None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=128)
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[str] = Field(default_factory=lambda: ["member"], max_length=20)


class UserOut(BaseModel):
    id: str
    username: str
    email: str
    roles: list[str]
    status: str
    created_at: datetime | None = None


def _platform(request: Request) -> Any:
    return request.app.state.platform


def _scoped(caller: ExecutionContext, tenant_id: str) -> ExecutionContext:
    return replace(caller, tenant_id=tenant_id)


@router.post(
    "/api/v1/tenants",
    status_code=status.HTTP_201_CREATED,
    response_model=TenantOut,
    tags=["tenants"],
    summary="Create a tenant (superadmin)",
)
async def create_tenant(body: TenantIn, caller: Caller, request: Request) -> Any:
    platform = _platform(request)
    require_superadmin(caller, platform.platform_tenant)
    slug = check_slug(body.slug)
    return await run_command(
        _scoped(caller, slug),
        lambda: platform.iam.create_tenant(slug, body.name),
        retries=0,
    )


@router.get(
    "/api/v1/tenants",
    response_model=list[TenantOut],
    tags=["tenants"],
    summary="List tenants (superadmin)",
)
async def list_tenants(caller: Caller, request: Request) -> Any:
    platform = _platform(request)
    require_superadmin(caller, platform.platform_tenant)
    return await platform.iam.list_tenants()


@router.post(
    "/api/v1/tenants/{slug}/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    tags=["users"],
    summary="Create a user (superadmin or the tenant's admin)",
)
async def create_user(slug: str, body: UserIn, caller: Caller, request: Request) -> Any:
    platform = _platform(request)
    require_tenant_admin(caller, slug, platform.platform_tenant)
    return await run_command(
        _scoped(caller, slug),
        lambda: platform.iam.create_user(
            slug, body.username, body.email, body.password, body.roles
        ),
        retries=0,
    )


@router.get(
    "/api/v1/tenants/{slug}/users",
    response_model=list[UserOut],
    tags=["users"],
    summary="List users of a tenant from the read model",
)
async def list_users(slug: str, caller: Caller, request: Request) -> Any:
    platform = _platform(request)
    require_tenant_admin(caller, slug, platform.platform_tenant)
    return await platform.iam.list_users(slug)


# --- OpenID Connect -----------------------------------------------------------


def _oauth_error(code: str, description: str, status_code: int = 400) -> JSONResponse:
    """RFC 6749 section 5.2 error body."""
    return JSONResponse(
        {"error": code, "error_description": description},
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.get(
    "/realms/{slug}/.well-known/openid-configuration",
    tags=["openid-connect"],
    summary="OpenID Provider metadata of a tenant",
)
async def discovery(slug: str, request: Request) -> dict[str, Any]:
    platform = _platform(request)
    await platform.iam.require_tenant(slug)
    issuer = platform.issuer_for(slug)
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/protocol/openid-connect/token",
        "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
        "grant_types_supported": ["password"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tenant", "roles"],
    }


@router.get(
    "/realms/{slug}/protocol/openid-connect/certs",
    tags=["openid-connect"],
    summary="Public signing keys of a tenant (JWKS)",
)
async def jwks(slug: str, request: Request) -> dict[str, Any]:
    platform = _platform(request)
    await platform.iam.require_tenant(slug)
    return {"keys": await platform.keys.public_keys(slug)}


@router.post(
    "/realms/{slug}/protocol/openid-connect/token",
    tags=["openid-connect"],
    summary="OAuth 2.0 token endpoint (form-encoded)",
    responses={400: {"description": "RFC 6749 error"}},
)
async def token(slug: str, request: Request) -> JSONResponse:
    platform = _platform(request)
    try:
        await platform.iam.require_tenant(slug)
    except NotFoundError:
        return _oauth_error("invalid_request", f"unknown realm {slug!r}", 404)
    if "application/x-www-form-urlencoded" not in request.headers.get(
        "content-type", ""
    ):
        return _oauth_error("invalid_request", "send the form as x-www-form-urlencoded")
    form = await request.form()
    fields = {key: str(value) for key, value in form.items()}
    grant_type = fields.get("grant_type")
    if grant_type != "password":
        return _oauth_error(
            "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
        )
    if fields.get("client_id") != "eaf-cli":
        return _oauth_error("invalid_client", "unknown client_id", 401)
    username, password = fields.get("username"), fields.get("password")
    if not username or not password:
        return _oauth_error("invalid_request", "username and password are required")
    try:
        principal = await platform.iam.authenticate(slug, username, password)
    except AuthenticationError:
        return _oauth_error("invalid_grant", "invalid username or password")
    access_token, expires_in = await platform.issuer.issue(
        slug, principal.user_id, principal.username, principal.roles, "eaf-cli"
    )
    return JSONResponse(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": "openid profile",
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
