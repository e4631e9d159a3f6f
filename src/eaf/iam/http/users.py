"""User routes: create, list, show, profile, status, roles and passwords."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from eaf.application.commands import run_command
from eaf.context import ExecutionContext
from eaf.errors import NotFoundError
from eaf.http.problems import problem_responses
from eaf.http.security import Caller
from eaf.iam.http._common import (
    USERS_READ,
    USERS_WRITE,
    authorize,
    check_grantable,
    iam_of,
    run_in,
    services_of,
)

router = APIRouter(tags=["users"], responses=problem_responses())

PasswordField = Field(min_length=1, max_length=1024)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=128)
    email: str = Field(min_length=3, max_length=320)
    password: str = PasswordField
    roles: list[str] = Field(default_factory=lambda: ["member"], max_length=20)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, min_length=1, max_length=128)
    email: str | None = Field(default=None, min_length=3, max_length=320)
    display_name: str | None = Field(default=None, max_length=200)


class UserOut(BaseModel):
    id: str
    username: str
    email: str
    display_name: str = ""
    roles: list[str]
    status: str
    created_at: datetime | None = None


class NewPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_password: str = PasswordField


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = PasswordField
    new_password: str = PasswordField


class ResetRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(
        min_length=1, max_length=320, description="Username or email address."
    )


class ResetConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)
    new_password: str = PasswordField


USER_PATH = "/api/v1/tenants/{slug}/users/{user_id}"
SELF_SERVICE_ACTOR = "system:password-reset"


@router.post(
    "/api/v1/tenants/{slug}/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Create a user",
)
async def create_user(slug: str, body: UserIn, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    await iam_of(request).require_tenant(slug)
    await check_grantable(caller, request, slug, body.roles)
    iam = iam_of(request)
    return await run_in(
        caller,
        slug,
        lambda: iam.create_user(
            slug, body.username, body.email, body.password, body.roles
        ),
    )


@router.get(
    "/api/v1/tenants/{slug}/users",
    response_model=list[UserOut],
    summary="List users of a tenant from the read model",
)
async def list_users(slug: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, USERS_READ)
    return await iam_of(request).list_users(slug)


@router.get(USER_PATH, response_model=UserOut, summary="Show a user")
async def show_user(slug: str, user_id: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, USERS_READ)
    return await services_of(request).users.get(slug, user_id)


@router.patch(USER_PATH, response_model=UserOut, summary="Update a user's profile")
async def update_user(
    slug: str, user_id: str, body: UserPatch, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    users = services_of(request).users
    return await run_in(
        caller,
        slug,
        lambda: users.update_profile(
            slug,
            user_id,
            username=body.username,
            email=body.email,
            display_name=body.display_name,
        ),
    )


@router.post(
    f"{USER_PATH}/deactivate",
    response_model=UserOut,
    summary="Deactivate a user: logins and refresh tokens stop working",
)
async def deactivate_user(
    slug: str, user_id: str, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    users = services_of(request).users
    return await run_in(caller, slug, lambda: users.deactivate(slug, user_id))


@router.post(f"{USER_PATH}/activate", response_model=UserOut, summary="Activate")
async def activate_user(
    slug: str, user_id: str, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    users = services_of(request).users
    return await run_in(caller, slug, lambda: users.activate(slug, user_id))


@router.put(
    f"{USER_PATH}/roles/{{role}}",
    response_model=UserOut,
    summary="Assign a role to a user",
)
async def assign_role(
    slug: str, user_id: str, role: str, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    await check_grantable(caller, request, slug, [role])
    users = services_of(request).users
    return await run_in(caller, slug, lambda: users.assign_role(slug, user_id, role))


@router.delete(
    f"{USER_PATH}/roles/{{role}}",
    response_model=UserOut,
    summary="Revoke a role from a user",
)
async def revoke_role(
    slug: str, user_id: str, role: str, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    await check_grantable(caller, request, slug, [role])
    users = services_of(request).users
    return await run_in(caller, slug, lambda: users.revoke_role(slug, user_id, role))


@router.post(
    f"{USER_PATH}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Set a user's password (administrator reset)",
)
async def reset_password(
    slug: str, user_id: str, body: NewPasswordIn, caller: Caller, request: Request
) -> Response:
    authorize(caller, request, slug, USERS_WRITE)
    credentials = services_of(request).credentials
    await run_in(
        caller,
        slug,
        lambda: credentials.set_password(slug, user_id, body.new_password),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/me", response_model=UserOut, summary="The caller's own profile")
async def show_me(caller: Caller, request: Request) -> Any:
    slug, user_id = caller.tenant_id or "", caller.actor or ""
    try:
        return await services_of(request).users.get(slug, user_id)
    except NotFoundError:
        raise NotFoundError("this token belongs to no user") from None


@router.put(
    "/api/v1/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Change the caller's own password; the current one is required",
)
async def change_my_password(
    body: PasswordChangeIn, caller: Caller, request: Request
) -> Response:
    slug, user_id = caller.tenant_id or "", caller.actor or ""
    credentials = services_of(request).credentials
    await run_in(
        caller,
        slug,
        lambda: credentials.change_password(
            slug, user_id, body.old_password, body.new_password
        ),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/v1/tenants/{slug}/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    summary="Ask for a password reset link (always accepted)",
)
async def request_reset(slug: str, body: ResetRequestIn, request: Request) -> Response:
    await iam_of(request).require_tenant(slug)
    credentials = services_of(request).credentials
    await run_command(
        _self_service(slug),
        lambda: credentials.request_reset(slug, body.username),
        retries=0,
    )
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/api/v1/tenants/{slug}/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Set a new password with a single-use reset token",
)
async def confirm_reset(slug: str, body: ResetConfirmIn, request: Request) -> Response:
    await iam_of(request).require_tenant(slug)
    credentials = services_of(request).credentials
    await run_command(
        _self_service(slug),
        lambda: credentials.confirm_reset(slug, body.token, body.new_password),
        retries=0,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _self_service(slug: str) -> ExecutionContext:
    """Unauthenticated self-service: the audit trail names it as the actor."""
    return ExecutionContext(tenant_id=slug, actor=SELF_SERVICE_ACTOR, actor_tenant=slug)
