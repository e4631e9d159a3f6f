"""Bearer authentication and authorization checks for API routes."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eaf.context import ExecutionContext
from eaf.errors import AuthenticationError, PermissionDeniedError
from eaf.iam.domain.rules import SUPERADMIN, TENANT_ADMIN

_bearer = HTTPBearer(auto_error=False, description="An access token of a tenant")


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ExecutionContext:
    """The caller's context from a valid bearer token; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("send an access token as 'Authorization: Bearer ...'")
    platform = request.app.state.platform
    context: ExecutionContext = await platform.verifier.verify(credentials.credentials)
    correlation = getattr(request.state, "correlation_id", None)
    if correlation:
        context = replace(context, correlation_id=correlation)
    return context


Caller = Annotated[ExecutionContext, Depends(authenticated)]


def is_superadmin(caller: ExecutionContext, platform_tenant: str) -> bool:
    return caller.tenant_id == platform_tenant and SUPERADMIN in caller.roles


def require_superadmin(caller: ExecutionContext, platform_tenant: str) -> None:
    if not is_superadmin(caller, platform_tenant):
        raise PermissionDeniedError("this needs the superadmin role")


def require_tenant_permission(
    caller: ExecutionContext, slug: str, permission: str, platform_tenant: str
) -> None:
    """Superadmins act on every tenant; others need ``permission`` in ``slug``."""
    if is_superadmin(caller, platform_tenant):
        return
    if caller.tenant_id != slug:
        raise PermissionDeniedError(
            f"a token of tenant {caller.tenant_id!r} cannot act on tenant {slug!r}"
        )
    if not caller.has_permission(permission):
        raise PermissionDeniedError(f"this needs the permission {permission!r}")


def require_tenant_admin(
    caller: ExecutionContext, slug: str, platform_tenant: str
) -> None:
    """Superadmins manage every tenant; a tenant admin only their own."""
    if is_superadmin(caller, platform_tenant):
        return
    if caller.tenant_id == slug and TENANT_ADMIN in caller.roles:
        return
    raise PermissionDeniedError(f"this needs the tenant_admin role of tenant {slug!r}")
