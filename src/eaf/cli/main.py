"""`eaf`: run the platform and operate it."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Annotated

import typer
from alembic.util.exc import CommandError

from eaf.cli import (
    auth,
    bootstrap,
    config,
    dlq,
    events,
    license,
    projections,
    roles,
    tenants,
    users,
)
from eaf.cli._common import (
    DataDirOption,
    console,
    fail,
    handle_errors,
    run_async,
    settings_for,
)
from eaf.db import migrate
from eaf.errors import ConfigurationError
from eaf.iam.bootstrap import BootstrapResult
from eaf.runtime import launcher
from eaf.runtime.embedded import free_port
from eaf.runtime.platform import Platform
from eaf.settings import Settings
from eaf.version import eaf_revision, eaf_version

app = typer.Typer(
    name="eaf",
    help="EAF: event-sourced, multi-tenant application platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(projections.app, name="projections")
app.add_typer(dlq.app, name="dlq")
app.add_typer(events.app, name="events")
app.add_typer(config.app, name="config")
app.add_typer(license.app, name="license")
app.add_typer(tenants.app, name="tenants")
app.add_typer(users.app, name="users")
app.add_typer(roles.app, name="roles")
app.add_typer(roles.accounts, name="service-accounts")
app.command(name="bootstrap")(bootstrap.bootstrap)
app.command(name="login")(auth.login)
app.command(name="logout")(auth.logout)

HostOption = Annotated[
    str | None, typer.Option("--host", help="IP address or host name to bind.")
]
PortOption = Annotated[
    int | None,
    typer.Option("--port", min=0, max=65535, help="HTTP port; 0 picks a free one."),
]


def _check_host(host: str) -> None:
    """Fail with exit code 2 unless ``host`` is an IP address or resolves."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    # All digits and dots is a mistyped IPv4 address, never a host name: do not
    # send it to DNS.
    if re.fullmatch(r"[0-9.]+", host):
        raise fail(f"cannot use host {host}: not a valid IP address", 2)
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise fail(f"cannot use host {host}: {reason}", 2) from None


def _bind_address(
    settings: Settings, host: str | None, port: int | None
) -> tuple[str, int]:
    """The host and a concrete port to listen on, checked before starting."""
    bind_host = host or settings.host
    bind_port = port if port is not None else settings.port
    _check_host(bind_host)
    if bind_port == 0:
        # Choose now, so printed URLs and token issuers carry the real port.
        bind_port = free_port()
    return bind_host, bind_port


def _print_ready(data_dir: str) -> Callable[[Platform, BootstrapResult | None], None]:
    def show(platform: Platform, result: BootstrapResult | None) -> None:
        base = platform.public_url
        console.print(f"[bold green]EAF {eaf_version()} is up[/]")
        console.print(f"  API          {base}/docs")
        console.print(f"  OpenAPI      {base}/openapi.json")
        console.print(f"  Health       {base}/healthz  {base}/readyz")
        console.print(f"  Metrics      {base}/metrics")
        console.print(
            f"  OpenID       {base}/realms/{platform.platform_tenant}"
            "/.well-known/openid-configuration"
        )
        if result is not None and result.password_file is not None:
            console.print(
                f"  Superadmin   {result.username} (password in {result.password_file})"
            )
        elif result is not None:
            console.print(f"  Superadmin   {result.username}")
        console.print(f"  Data         {data_dir}")
        console.print("Press Ctrl-C to stop.")

    return show


@app.command()
@handle_errors
def up(
    data_dir: DataDirOption = None,
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Start everything in one process, with embedded servers unless URLs are set."""
    settings = settings_for(data_dir)
    bind_host, bind_port = _bind_address(settings, host, port)
    launcher.refuse_unfit_settings(settings)
    launcher.check_port_free(bind_host, bind_port)
    console.print("Starting PostgreSQL and NATS...")
    with launcher.embedded_servers(settings) as connections:
        with console.status("Applying migrations..."):
            launcher.migrate_servers(settings, connections)
        run_async(
            launcher.run_platform(
                settings,
                connections,
                host=bind_host,
                port=bind_port,
                bootstrap=True,
                on_ready=_print_ready(str(settings.data_dir.absolute())),
            )
        )
        console.print("Stopping...")
    console.print("EAF stopped.")


@app.command()
@handle_errors
def serve(
    role: Annotated[
        str, typer.Argument(help="all, iam, licensing, relay or projections")
    ] = "all",
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Run one role against external servers (EAF_DATABASE_URL, EAF_NATS_URL)."""
    roles = {"all", "iam", "licensing", "relay", "projections"}
    if role not in roles:
        raise fail(
            f"unknown role {role!r}; choose one of {', '.join(sorted(roles))}", 2
        )
    settings = settings_for()
    bind_host, bind_port = _bind_address(settings, host, port)
    launcher.refuse_unfit_settings(settings)
    connections = launcher.external_connections(settings)
    run_async(
        launcher.run_platform(
            settings,
            connections,
            host=bind_host,
            port=bind_port,
            serve_http=role in ("all", "iam", "licensing"),
            run_relay=role in ("all", "relay"),
            run_projections=role in ("all", "projections"),
            http_services=(role,) if role in ("iam", "licensing") else None,
        )
    )


@app.command(name="migrate")
@handle_errors
def migrate_command(
    action: Annotated[
        str, typer.Argument(help="upgrade, downgrade, sql or current")
    ] = "upgrade",
    revision: Annotated[str | None, typer.Argument(help="Target revision")] = None,
    downgrade_to: Annotated[
        str | None,
        typer.Option(
            "--downgrade-to", help="sql: print the SQL of a downgrade to this revision"
        ),
    ] = None,
    from_revision: Annotated[
        str | None,
        typer.Option(
            "--from", help="sql: the revision to start from instead of the database's"
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Apply, revert or print schema migrations (owner DSN: EAF_DATABASE_URL).

    Only the schema owner's DSN is needed: no NATS, and for `sql` and `current`
    no runtime password.
    """
    if action != "sql" and (downgrade_to or from_revision):
        raise fail("--downgrade-to and --from go with `eaf migrate sql`", 2)
    if downgrade_to and revision:
        raise fail("give a revision to upgrade to or --downgrade-to, not both", 2)
    settings = settings_for(data_dir)
    owner = _owner_dsn(settings)
    try:
        _run_migration(action, revision, settings, owner, downgrade_to, from_revision)
    except CommandError as exc:
        raise fail(f"migrate {action}: {exc}") from None


def _owner_dsn(settings: Settings) -> str:
    """EAF_DATABASE_URL, or the owner DSN of a running `eaf up`."""
    if settings.database_url:
        return settings.database_url
    needed = "migrations need EAF_DATABASE_URL, the schema owner's DSN"
    if settings.database_runtime_url:
        raise fail(f"{needed}; EAF_DATABASE_RUNTIME_URL is the services' role", 2)
    try:
        owner = launcher.external_connections(settings).owner_dsn
    except ConfigurationError:
        raise fail(f"{needed}, or a running `eaf up`", 2) from None
    if owner is None:
        raise fail(needed, 2)
    return owner


def _run_migration(
    action: str,
    revision: str | None,
    settings: Settings,
    owner: str,
    downgrade_to: str | None,
    from_revision: str | None,
) -> None:
    role = settings.runtime_role
    if action == "upgrade":
        password = launcher.runtime_password(settings)
        migrate.upgrade(owner, role, password, revision or "head")
        console.print(f"schema at {migrate.current_revision(owner)}")
    elif action == "downgrade":
        if not revision:
            raise fail(
                "name the revision to go back to, e.g. `eaf migrate downgrade 0001`", 2
            )
        migrate.downgrade(owner, role, revision)
        console.print(f"schema at {migrate.current_revision(owner)}")
    elif action == "sql" and downgrade_to:
        typer.echo(migrate.downgrade_sql(owner, role, downgrade_to, from_revision))
    elif action == "sql":
        typer.echo(migrate.upgrade_sql(owner, role, revision or "head", from_revision))
    elif action == "current":
        console.print(
            f"current {migrate.current_revision(owner)}, head {migrate.head_revision()}"
        )
    else:
        raise fail(
            f"unknown action {action!r}; use upgrade, downgrade, sql or current", 2
        )


@app.command()
def version() -> None:
    """Print the version and revision."""
    typer.echo(f"eaf {eaf_version()} ({eaf_revision()})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
