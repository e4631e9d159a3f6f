"""`eaf login` and `eaf logout`: tokens for the operator commands."""

from __future__ import annotations

from typing import Annotated

import typer

from eaf.cli._api import (
    DEFAULT_URL,
    UrlOption,
    forget_login,
    login_from,
    save_login,
    segment,
)
from eaf.cli._common import console, handle_errors, run_async
from eaf.iam.client import IamClient


@handle_errors
def login(
    url: UrlOption = None,
    tenant: Annotated[str, typer.Option("--tenant", "-t")] = "default",
    username: Annotated[str, typer.Option("--username", "-u")] = "admin",
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, envvar="EAF_PASSWORD", show_default=False
        ),
    ] = "",
) -> None:
    """Log in with a password; the tokens are kept for later commands (0600)."""
    base_url = url or DEFAULT_URL
    realm = segment(tenant, "tenant")

    async def obtain() -> None:
        async with IamClient(base_url) as client:
            tokens = await client.password_login(realm, username, password)
        path = save_login(login_from(base_url, tenant, tokens))
        console.print(f"logged in to {tenant} at {base_url}; tokens in {path}")

    run_async(obtain())


@handle_errors
def logout() -> None:
    """Forget the stored tokens."""
    if forget_login():
        console.print("logged out")
    else:
        console.print("not logged in")
