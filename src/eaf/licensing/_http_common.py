"""What the licensing routes share: who may call, and how answers look."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response

from eaf.application.commands import run_command
from eaf.context import ExecutionContext
from eaf.http.security import is_superadmin, require_superadmin, require_tenant_admin
from eaf.licensing.application import Licensing, license_view
from eaf.licensing.domain.license import License

PREFIX = "/api/v1/licensing"
JOSE = "application/jose"

T = TypeVar("T")


def licensing_of(request: Request) -> Licensing:
    """The platform's licensing service."""
    licensing: Licensing = request.app.state.platform.licensing
    return licensing


def vendor_of(caller: ExecutionContext, request: Request) -> Licensing:
    """The service, for a superadmin of the vendor (platform) tenant only."""
    require_superadmin(caller, str(request.app.state.platform.platform_tenant))
    return licensing_of(request)


def customer_scope(caller: ExecutionContext, request: Request) -> str | None:
    """``None`` for the vendor's superadmin, else the tenant admin's own tenant.

    Raises:
        PermissionDeniedError: the caller is neither.
    """
    platform_tenant = str(request.app.state.platform.platform_tenant)
    if is_superadmin(caller, platform_tenant):
        return None
    tenant_id = caller.tenant_id or ""
    require_tenant_admin(caller, tenant_id, platform_tenant)
    return tenant_id


async def run_as(caller: ExecutionContext, handler: Callable[[], Awaitable[T]]) -> T:
    """Run a command in the caller's context, so events record the actor."""
    return await run_command(caller, handler, retries=0)


def jose_response(token: str) -> Response:
    """A signed file as the answer: the compact JWS and one line feed."""
    return Response(content=f"{token}\n", media_type=JOSE)


def view_now(licensing: Licensing, license_: License) -> dict[str, Any]:
    """The API form of a license, its status at the service's current time."""
    return license_view(license_, licensing.licenses.clock())
