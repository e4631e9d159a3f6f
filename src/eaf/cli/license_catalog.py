"""`eaf license product` and `eaf license policy`: the catalog, over the API.

Like `eaf tenants`, these commands call a running site with the login that
`eaf login` stored (or ``EAF_TOKEN``); the vendor's superadmin may use them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from eaf.cli._api import UrlOption, api_client
from eaf.cli._common import fail, handle_errors, run_async, show_json, show_table

CATALOG_API = "/api/v1/licensing"
DEFAULT_DAYS = 365

products = typer.Typer(
    help="Products that licenses are sold for.", no_args_is_help=True
)
policies = typer.Typer(
    help="Policies: the terms licenses are issued under.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, not a table")]


def _call(url: str | None, method: str, path: str, **options: Any) -> Any:
    async def call() -> Any:
        async with api_client(url) as (client, _):
            return await client.request(method, f"{CATALOG_API}{path}", **options)

    return run_async(call())


def _limit_values(items: list[str]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name or not value.strip().isdigit():
            raise fail(f"--limit takes NAME=COUNT, like users=50, not {item!r}", 2)
        limits[name] = int(value)
    return limits


@products.command(name="create")
@handle_errors
def create_product(
    name: Annotated[str, typer.Argument(help="Product name, like orbit")],
    display_name: Annotated[str, typer.Option(help="Name shown to people")] = "",
    url: UrlOption = None,
) -> None:
    """Add a product to the catalog."""
    body = {"name": name, "display_name": display_name}
    show_json(_call(url, "POST", "/products", json=body))


@products.command(name="list")
@handle_errors
def list_products(as_json: JsonOption = False, url: UrlOption = None) -> None:
    """List the products of the catalog."""
    found = _call(url, "GET", "/products")
    if as_json:
        show_json(found)
        return
    show_table(found, ["name", "display_name", "status", "created_at"])


@policies.command(name="create")
@handle_errors
def create_policy(
    policy_id: Annotated[str, typer.Argument(help="Policy id, like orbit-standard")],
    product: Annotated[str, typer.Option(help="The product it licenses")],
    duration_days: Annotated[
        int | None,
        typer.Option(min=1, help="License lifetime in days", show_default="365"),
    ] = None,
    perpetual: Annotated[
        bool, typer.Option("--perpetual", help="Licenses never expire")
    ] = False,
    grace_days: Annotated[int, typer.Option(min=0, help="Days after expiry")] = 0,
    features: Annotated[
        list[str],
        typer.Option("--feature", help="Entitlement granted (repeatable)"),
    ] = [],  # noqa: B006 - Typer reads the default, never mutates it
    limits: Annotated[
        list[str],
        typer.Option("--limit", help="NAME=COUNT, like users=50 (repeatable)"),
    ] = [],  # noqa: B006 - Typer reads the default, never mutates it
    node_locked: Annotated[
        bool, typer.Option("--node-locked", help="Bind licenses to machines")
    ] = False,
    trial: Annotated[bool, typer.Option("--trial", help="A trial policy")] = False,
    url: UrlOption = None,
) -> None:
    """Add a policy to a product."""
    if perpetual and duration_days is not None:
        raise fail("--perpetual and --duration-days contradict each other", 2)
    body = {
        "id": policy_id,
        "product": product,
        "duration_days": None if perpetual else (duration_days or DEFAULT_DAYS),
        "grace_days": grace_days,
        "entitlements": features,
        "limits": _limit_values(limits),
        "node_locked": node_locked,
        "trial": trial,
    }
    show_json(_call(url, "POST", "/policies", json=body))


@policies.command(name="list")
@handle_errors
def list_policies(
    product: Annotated[str | None, typer.Option(help="Only this product's")] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List policies with their terms."""
    params = {"product": product} if product else None
    found = _call(url, "GET", "/policies", params=params)
    if as_json:
        show_json(found)
        return
    # The full terms do not fit a terminal's width; --json shows them all.
    show_table(found, ["id", "product", "status", "duration_days", "trial"])
