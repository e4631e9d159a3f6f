"""What the IAM routes share: the platform's services and who may do what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request

from eaf.application.commands import run_command
from eaf.context import ExecutionContext
from eaf.errors import PermissionDeniedError
from eaf.http.security import is_superadmin, require_tenant_permission
from eaf.iam.domain.rules import SUPERADMIN

if TYPE_CHECKING:
    from eaf.iam.service import IamService
    from eaf.iam.wiring import IamServices
    from eaf.runtime.platform import Platform

T = TypeVar("T")

# Permissions that guard the IAM's own API. Tenant admins hold "*" in their
# tenant; custom roles may grant some of these, for example "iam:users.read".
USERS_READ = "iam:users.read"
USERS_WRITE = "iam:users.write"
ROLES_READ = "iam:roles.read"
ROLES_WRITE = "iam:roles.write"
CLIENTS_WRITE = "iam:clients.write"
TENANT_READ = "iam:tenant.read"
TENANT_WRITE = "iam:tenant.write"
KEYS_WRITE = "iam:keys.write"
AUDIT_READ = "iam:audit.read"


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def iam_of(request: Request) -> IamService:
    return platform_of(request).iam


def services_of(request: Request) -> IamServices:
    return platform_of(request).iam_services


def authorize(
    caller: ExecutionContext, request: Request, slug: str, permission: str
) -> None:
    """403 unless the caller is a superadmin or holds ``permission`` in ``slug``."""
    require_tenant_permission(
        caller, slug, permission, platform_of(request).platform_tenant
    )


async def check_grantable(
    caller: ExecutionContext,
    request: Request,
    slug: str,
    roles: Iterable[str] = (),
    permissions: Iterable[str] = (),
) -> None:
    """Nobody hands out more than they hold: refuse roles beyond the caller's."""
    platform = platform_of(request)
    if is_superadmin(caller, platform.platform_tenant):
        return
    roles = list(roles)
    if SUPERADMIN in roles:
        raise PermissionDeniedError("only a superadmin can grant superadmin")
    granted = await platform.iam_services.access.permissions_for(slug, roles)
    missing = sorted(
        item for item in {*granted, *permissions} if not caller.has_permission(item)
    )
    if missing:
        raise PermissionDeniedError(
            f"you cannot grant permissions you do not hold: {missing}"
        )


async def run_in(
    caller: ExecutionContext, slug: str, handler: Callable[[], Awaitable[T]]
) -> T:
    """Run a command for tenant ``slug`` in the caller's context (no retries)."""
    return await run_command(replace(caller, tenant_id=slug), handler, retries=0)
