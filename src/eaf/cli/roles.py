"""`eaf roles` and `eaf service-accounts`: access control of a tenant."""

from __future__ import annotations

from typing import Annotated

import typer

from eaf.cli._api import (
    TenantOption,
    UrlOption,
    api_client,
    segment,
    tenant_segment,
)
from eaf.cli._common import (
    handle_errors,
    print_line,
    run_async,
    show_json,
    show_table,
)

app = typer.Typer(help="Roles: built-in and custom.", no_args_is_help=True)
accounts = typer.Typer(
    help="Service accounts (client credentials).", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="Role name")]
PermissionOption = Annotated[
    list[str] | None,
    typer.Option("--permission", "-p", help="Like licenses:read; repeat for more"),
]


@app.command(name="list")
@handle_errors
def list_command(tenant: TenantOption = None, url: UrlOption = None) -> None:
    """List built-in and custom roles with their permissions."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            roles = await client.list_roles(tenant_segment(tenant, own_tenant))
        show_table(roles, ["name", "built_in", "permissions", "description"])

    run_async(run())


@app.command()
@handle_errors
def create(
    name: NameArgument,
    permission: PermissionOption = None,
    description: Annotated[str, typer.Option()] = "",
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Define a custom role."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            role = await client.define_role(
                tenant_segment(tenant, own_tenant),
                name,
                permission or [],
                description,
            )
        show_json(role)

    run_async(run())


@app.command()
@handle_errors
def update(
    name: NameArgument,
    permission: PermissionOption = None,
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Replace a custom role's permissions."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            role = await client.change_role(
                tenant_segment(tenant, own_tenant),
                segment(name, "role"),
                permission or [],
            )
        show_json(role)

    run_async(run())


@app.command()
@handle_errors
def delete(
    name: NameArgument, tenant: TenantOption = None, url: UrlOption = None
) -> None:
    """Delete a custom role."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            await client.delete_role(
                tenant_segment(tenant, own_tenant), segment(name, "role")
            )
        print_line(f"role {name} deleted")

    run_async(run())


@accounts.command(name="list")
@handle_errors
def list_accounts(tenant: TenantOption = None, url: UrlOption = None) -> None:
    """List service accounts (secrets are never shown again)."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            found = await client.list_service_accounts(
                tenant_segment(tenant, own_tenant)
            )
        show_table(found, ["id", "name", "client_id", "roles", "rotated_at"])

    run_async(run())


@accounts.command(name="create")
@handle_errors
def create_account(
    name: Annotated[str, typer.Argument()],
    role: Annotated[list[str] | None, typer.Option(help="Repeat for more")] = None,
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Create a service account and print its secret, once."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            created = await client.create_service_account(
                tenant_segment(tenant, own_tenant), name, role or []
            )
        show_json(created)

    run_async(run())


@accounts.command(name="rotate")
@handle_errors
def rotate_account(
    account_id: Annotated[str, typer.Argument()],
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Replace a service account's secret and print the new one."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            rotated = await client.rotate_service_account_secret(
                tenant_segment(tenant, own_tenant),
                segment(account_id, "account id"),
            )
        show_json(rotated)

    run_async(run())
