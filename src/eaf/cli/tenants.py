"""`eaf tenants`: create, list, show, rename, suspend, reactivate, audit, purge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from eaf.cli._api import UrlOption, api_client, segment
from eaf.cli._common import (
    handle_errors,
    print_line,
    run_async,
    show_json,
    show_table,
)

app = typer.Typer(help="Tenants (superadmin).", no_args_is_help=True)

SlugArgument = Annotated[str, typer.Argument(help="Tenant slug")]
TENANT_COLUMNS = ["slug", "name", "status", "created_at"]
PURGE_COLUMNS = [
    "tenant",
    "refresh_tokens",
    "authorization_codes",
    "reset_tokens",
    "revoked_tokens",
    "login_failures",
]


@app.command(name="list")
@handle_errors
def list_command(url: UrlOption = None) -> None:
    """List every tenant."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            show_table(await client.list_tenants(), TENANT_COLUMNS)

    run_async(run())


@app.command()
@handle_errors
def show(slug: SlugArgument, url: UrlOption = None) -> None:
    """Show one tenant."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            show_json(await client.get_tenant(segment(slug, "tenant")))

    run_async(run())


@app.command()
@handle_errors
def create(
    slug: SlugArgument,
    name: Annotated[str, typer.Option(help="Display name")],
    url: UrlOption = None,
) -> None:
    """Create a tenant with its own issuer and signing key."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            show_json(await client.create_tenant(slug, name))

    run_async(run())


@app.command()
@handle_errors
def rename(
    slug: SlugArgument,
    name: Annotated[str, typer.Argument(help="New display name")],
    url: UrlOption = None,
) -> None:
    """Change a tenant's display name (the slug stays)."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            show_json(await client.rename_tenant(segment(slug, "tenant"), name))

    run_async(run())


@app.command()
@handle_errors
def suspend(
    slug: SlugArgument,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail")] = "",
    url: UrlOption = None,
) -> None:
    """Suspend a tenant: its logins and tokens stop working."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            show_json(await client.suspend_tenant(segment(slug, "tenant"), reason))

    run_async(run())


@app.command()
@handle_errors
def reactivate(slug: SlugArgument, url: UrlOption = None) -> None:
    """Reactivate a suspended tenant."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            show_json(await client.reactivate_tenant(segment(slug, "tenant")))

    run_async(run())


@app.command(name="rotate-keys")
@handle_errors
def rotate_keys(slug: SlugArgument, url: UrlOption = None) -> None:
    """Start signing with a new key; the old one stays published for a while."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            show_json(await client.rotate_keys(segment(slug, "tenant")))

    run_async(run())


@app.command(name="purge-expired")
@handle_errors
def purge_expired(
    slug: Annotated[
        str | None, typer.Argument(help="Tenant slug; every tenant if unset")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Delete expired tokens, codes and login counters; schedule it daily."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            if slug is None:
                slugs = [str(row["slug"]) for row in await client.list_tenants()]
            else:
                slugs = [slug]
            rows = [
                {"tenant": name, **await client.purge_expired(segment(name, "tenant"))}
                for name in slugs
            ]
        show_table(rows, PURGE_COLUMNS)

    run_async(run())


@app.command()
@handle_errors
def audit(
    slug: SlugArgument,
    actor: Annotated[str | None, typer.Option(help="Only this actor")] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only these event types")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time")] = None,
    cursor: Annotated[str | None, typer.Option(help="Continue after this")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the page as JSON")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Who changed what in a tenant, oldest first."""

    async def run() -> None:
        async with api_client(url) as (client, _):
            page = await client.audit(
                segment(slug, "tenant"),
                actor=actor,
                event_types=event_type,
                since=since,
                until=until,
                cursor=cursor,
                limit=limit,
            )
        if as_json:
            show_json(page)
            return
        show_table(page["items"], ["position", "time", "actor", "type", "stream"])
        if page["next_cursor"]:
            print_line(f"more: --cursor {page['next_cursor']}")

    run_async(run())
