"""Access routes: custom roles, service accounts and browser clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from eaf.http.problems import problem_responses
from eaf.http.security import Caller
from eaf.iam.http._common import (
    CLIENTS_WRITE,
    ROLES_READ,
    ROLES_WRITE,
    USERS_WRITE,
    authorize,
    check_grantable,
    iam_of,
    run_in,
    services_of,
)

router = APIRouter(responses=problem_responses())

ROLES = "/api/v1/tenants/{slug}/roles"
ACCOUNTS = "/api/v1/tenants/{slug}/service-accounts"
CLIENTS = "/api/v1/tenants/{slug}/clients"

Permissions = Field(max_length=100, examples=[["licenses:read", "flags:*"]])


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=63, examples=["license-viewer"])
    permissions: list[str] = Permissions
    description: str = Field(default="", max_length=500)


class RolePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    permissions: list[str] = Permissions


class RoleOut(BaseModel):
    name: str
    description: str
    permissions: list[str]
    built_in: bool


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["billing-sync"])
    roles: list[str] = Field(default_factory=list, max_length=20)


class AccountOut(BaseModel):
    id: str
    name: str
    client_id: str
    roles: list[str]
    created_at: datetime | None = None
    rotated_at: datetime | None = None


class AccountSecretOut(BaseModel):
    id: str
    name: str
    client_id: str
    client_secret: str = Field(description="Shown only in this answer; store it.")
    roles: list[str]
    created_at: datetime | None = None


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    redirect_uris: list[str] = Field(min_length=1, max_length=20)
    client_id: str | None = Field(default=None, min_length=3, max_length=63)


class ClientOut(BaseModel):
    client_id: str
    name: str
    redirect_uris: list[str]


def _no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    ROLES,
    status_code=status.HTTP_201_CREATED,
    response_model=RoleOut,
    tags=["roles"],
    summary="Define a custom role of permissions",
)
async def define_role(slug: str, body: RoleIn, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, ROLES_WRITE)
    await iam_of(request).require_tenant(slug)
    await check_grantable(caller, request, slug, permissions=body.permissions)
    access = services_of(request).access
    return await run_in(
        caller,
        slug,
        lambda: access.define_role(slug, body.name, body.permissions, body.description),
    )


@router.get(ROLES, response_model=list[RoleOut], tags=["roles"], summary="List roles")
async def list_roles(slug: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, ROLES_READ)
    await iam_of(request).require_tenant(slug)
    return await services_of(request).access.list_roles(slug)


@router.put(
    f"{ROLES}/{{name}}",
    response_model=RoleOut,
    tags=["roles"],
    summary="Replace a custom role's permissions",
)
async def change_role(
    slug: str, name: str, body: RolePatch, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, ROLES_WRITE)
    await check_grantable(caller, request, slug, permissions=body.permissions)
    access = services_of(request).access
    return await run_in(
        caller, slug, lambda: access.change_role(slug, name, body.permissions)
    )


@router.delete(
    f"{ROLES}/{{name}}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["roles"],
    summary="Delete a custom role",
)
async def delete_role(
    slug: str, name: str, caller: Caller, request: Request
) -> Response:
    authorize(caller, request, slug, ROLES_WRITE)
    access = services_of(request).access
    await run_in(caller, slug, lambda: access.delete_role(slug, name))
    return _no_content()


@router.post(
    ACCOUNTS,
    status_code=status.HTTP_201_CREATED,
    response_model=AccountSecretOut,
    tags=["service-accounts"],
    summary="Create a service account; the secret is shown once",
)
async def create_account(
    slug: str, body: AccountIn, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    await iam_of(request).require_tenant(slug)
    await check_grantable(caller, request, slug, body.roles)
    access = services_of(request).access
    return await run_in(
        caller,
        slug,
        lambda: access.create_service_account(slug, body.name, body.roles),
    )


@router.get(
    ACCOUNTS,
    response_model=list[AccountOut],
    tags=["service-accounts"],
    summary="List service accounts (without secrets)",
)
async def list_accounts(slug: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    await iam_of(request).require_tenant(slug)
    return await services_of(request).access.list_service_accounts(slug)


@router.post(
    f"{ACCOUNTS}/{{account_id}}/secret",
    response_model=AccountSecretOut,
    tags=["service-accounts"],
    summary="Rotate the secret: the old one stops working at once",
)
async def rotate_secret(
    slug: str, account_id: str, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, USERS_WRITE)
    access = services_of(request).access
    return await run_in(caller, slug, lambda: access.rotate_secret(slug, account_id))


@router.delete(
    f"{ACCOUNTS}/{{account_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["service-accounts"],
    summary="Delete a service account",
)
async def delete_account(
    slug: str, account_id: str, caller: Caller, request: Request
) -> Response:
    authorize(caller, request, slug, USERS_WRITE)
    access = services_of(request).access
    await run_in(caller, slug, lambda: access.delete_service_account(slug, account_id))
    return _no_content()


@router.post(
    CLIENTS,
    status_code=status.HTTP_201_CREATED,
    response_model=ClientOut,
    tags=["clients"],
    summary="Register a browser client (authorization code with PKCE)",
)
async def register_client(
    slug: str, body: ClientIn, caller: Caller, request: Request
) -> Any:
    authorize(caller, request, slug, CLIENTS_WRITE)
    await iam_of(request).require_tenant(slug)
    access = services_of(request).access
    return await run_in(
        caller,
        slug,
        lambda: access.register_client(
            slug, body.name, body.redirect_uris, body.client_id
        ),
    )


@router.get(
    CLIENTS,
    response_model=list[ClientOut],
    tags=["clients"],
    summary="List browser clients",
)
async def list_clients(slug: str, caller: Caller, request: Request) -> Any:
    authorize(caller, request, slug, CLIENTS_WRITE)
    await iam_of(request).require_tenant(slug)
    return await services_of(request).access.list_clients(slug)


@router.delete(
    f"{CLIENTS}/{{client_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    tags=["clients"],
    summary="Remove a browser client",
)
async def remove_client(
    slug: str, client_id: str, caller: Caller, request: Request
) -> Response:
    authorize(caller, request, slug, CLIENTS_WRITE)
    access = services_of(request).access
    await run_in(caller, slug, lambda: access.remove_client(slug, client_id))
    return _no_content()
