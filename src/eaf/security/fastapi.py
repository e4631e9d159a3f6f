"""FastAPI dependencies: who calls, and may they do this?

Usage::

    app.state.token_verifier = RemoteTokenVerifier("https://iam.example.com")

    LicenseReader = Annotated[
        ExecutionContext, Depends(requires_permission("licenses:read"))
    ]

    @app.get("/licenses")
    async def licenses(caller: LicenseReader) -> ...: ...

Each dependency makes the caller's context current for the rest of the request
(``eaf.context.current_context()``), so commands run in it and the events they
record carry the actor, tenant, roles and permissions in their metadata.
Failures are ``HTTPException``s (401 with ``WWW-Authenticate``, 403, 503), so
the dependencies work in apps without EAF's problem handlers too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eaf.context import ExecutionContext, use_context
from eaf.errors import AuthenticationError, InfrastructureError
from eaf.security.verifier import TokenVerifier

APP_STATE_ATTRIBUTE = "token_verifier"

_bearer = HTTPBearer(auto_error=False, description="An access token of a tenant")


def _verifier_of(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, APP_STATE_ATTRIBUTE, None)
    if verifier is None:
        raise RuntimeError(
            f"set app.state.{APP_STATE_ATTRIBUTE} to a token verifier first"
        )
    return verifier  # type: ignore[no-any-return]


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AsyncIterator[ExecutionContext]:
    """The verified caller, current for the rest of the request; 401 otherwise."""
    if credentials is None:
        raise _unauthenticated("send an access token as 'Authorization: Bearer ...'")
    try:
        context = await _verifier_of(request).verify(credentials.credentials)
    except AuthenticationError as exc:
        raise _unauthenticated(exc.detail) from None
    except InfrastructureError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "cannot verify tokens right now"
        ) from exc
    with use_context(context):
        yield context


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


Principal = Annotated[ExecutionContext, Depends(current_principal)]


def requires_permission(
    *permissions: str, tenant_param: str | None = None
) -> Callable[..., Awaitable[ExecutionContext]]:
    """A dependency that answers 403 unless the caller holds every permission.

    Args:
        tenant_param: name of a path parameter holding a tenant slug; callers
            of other tenants are refused even if they hold the permission.
    """

    async def check_permissions(
        request: Request, caller: Principal
    ) -> ExecutionContext:
        if tenant_param is not None:
            wanted = request.path_params.get(tenant_param)
            if wanted != caller.tenant_id:
                raise _forbidden(
                    f"a token of tenant {caller.tenant_id!r} cannot act on "
                    f"tenant {wanted!r}"
                )
        missing = [item for item in permissions if not caller.has_permission(item)]
        if missing:
            raise _forbidden(f"this needs the permissions {missing}")
        return caller

    return check_permissions


def requires_role(role: str) -> Callable[..., Awaitable[ExecutionContext]]:
    """A dependency that answers 403 unless the caller has ``role``."""

    async def check_role(caller: Principal) -> ExecutionContext:
        if role not in caller.roles:
            raise _forbidden(f"this needs the role {role!r}")
        return caller

    return check_role
