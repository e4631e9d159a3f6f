"""`eaf users`: create, list, show, update, (de)activate, roles, passwords."""

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
    console,
    handle_errors,
    run_async,
    show_json,
    show_table,
)

app = typer.Typer(help="Users of a tenant.", no_args_is_help=True)

UserArgument = Annotated[str, typer.Argument(help="User id")]
USER_COLUMNS = ["id", "username", "email", "roles", "status"]


def _password_option(prompt: str) -> object:
    return typer.Option(
        prompt=prompt,
        hide_input=True,
        confirmation_prompt=True,
        show_default=False,
    )


@app.command(name="list")
@handle_errors
def list_command(tenant: TenantOption = None, url: UrlOption = None) -> None:
    """List the users of a tenant."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            users = await client.list_users(tenant_segment(tenant, own_tenant))
        show_table(users, USER_COLUMNS)

    run_async(run())


@app.command()
@handle_errors
def show(
    user_id: UserArgument, tenant: TenantOption = None, url: UrlOption = None
) -> None:
    """Show one user."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            show_json(
                await client.get_user(
                    tenant_segment(tenant, own_tenant), segment(user_id, "user id")
                )
            )

    run_async(run())


@app.command()
@handle_errors
def create(
    username: Annotated[str, typer.Argument()],
    email: Annotated[str, typer.Option()],
    password: Annotated[str, _password_option("Password")],
    role: Annotated[list[str] | None, typer.Option(help="Repeat for more")] = None,
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Create a user."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            created = await client.create_user(
                tenant_segment(tenant, own_tenant),
                username,
                email,
                password,
                role or ["member"],
            )
        show_json(created)

    run_async(run())


@app.command()
@handle_errors
def update(
    user_id: UserArgument,
    username: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Change a user's username, email or display name."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            updated = await client.update_user(
                tenant_segment(tenant, own_tenant),
                segment(user_id, "user id"),
                username=username,
                email=email,
                display_name=display_name,
            )
        show_json(updated)

    run_async(run())


def _set_status(
    user_id: str, tenant: str | None, url: str | None, active: bool
) -> None:
    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            changed = await client.set_user_status(
                tenant_segment(tenant, own_tenant),
                segment(user_id, "user id"),
                is_active=active,
            )
        show_json(changed)

    run_async(run())


@app.command()
@handle_errors
def deactivate(
    user_id: UserArgument, tenant: TenantOption = None, url: UrlOption = None
) -> None:
    """Deactivate a user: logins and refresh tokens stop working."""
    _set_status(user_id, tenant, url, active=False)


@app.command()
@handle_errors
def activate(
    user_id: UserArgument, tenant: TenantOption = None, url: UrlOption = None
) -> None:
    """Activate a deactivated user."""
    _set_status(user_id, tenant, url, active=True)


def _change_role(
    user_id: str, role: str, tenant: str | None, url: str | None, assign: bool
) -> None:
    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            change = client.assign_role if assign else client.revoke_role
            changed = await change(
                tenant_segment(tenant, own_tenant),
                segment(user_id, "user id"),
                segment(role, "role"),
            )
        show_json(changed)

    run_async(run())


@app.command(name="assign-role")
@handle_errors
def assign_role(
    user_id: UserArgument,
    role: Annotated[str, typer.Argument()],
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Give a user a role."""
    _change_role(user_id, role, tenant, url, assign=True)


@app.command(name="revoke-role")
@handle_errors
def revoke_role(
    user_id: UserArgument,
    role: Annotated[str, typer.Argument()],
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Take a role from a user."""
    _change_role(user_id, role, tenant, url, assign=False)


@app.command(name="set-password")
@handle_errors
def set_password(
    user_id: UserArgument,
    password: Annotated[str, _password_option("New password")],
    tenant: TenantOption = None,
    url: UrlOption = None,
) -> None:
    """Set a user's password (administrator reset)."""

    async def run() -> None:
        async with api_client(url) as (client, own_tenant):
            await client.set_password(
                tenant_segment(tenant, own_tenant),
                segment(user_id, "user id"),
                password,
            )
        console.print("password set; the user's refresh tokens were revoked")

    run_async(run())


@app.command()
@handle_errors
def passwd(
    old_password: Annotated[
        str, typer.Option(prompt="Current password", hide_input=True)
    ],
    new_password: Annotated[str, _password_option("New password")],
    url: UrlOption = None,
) -> None:
    """Change your own password."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            await client.change_my_password(old_password, new_password)
        console.print("password changed; log in again")

    run_async(run())
