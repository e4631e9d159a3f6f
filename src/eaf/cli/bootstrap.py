"""`eaf bootstrap`: a single-tenant site in one step, safe to run again."""

from __future__ import annotations

from typing import Annotated

import typer

from eaf.cli._common import (
    DataDirOption,
    console,
    handle_errors,
    run_async,
    settings_for,
)
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.adapters.keys import KeyStore
from eaf.iam.bootstrap import bootstrap_platform
from eaf.iam.service import IamService
from eaf.iam.wiring import password_policy_from, passwords_from
from eaf.runtime import launcher


@handle_errors
def bootstrap(
    tenant: Annotated[
        str | None, typer.Option(help="Default tenant (EAF_BOOTSTRAP_TENANT)")
    ] = None,
    username: Annotated[
        str | None, typer.Option(help="Superadmin (EAF_BOOTSTRAP_ADMIN_USERNAME)")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Migrate, then create the default tenant and its superadmin if missing.

    The superadmin is also the tenant's admin. Without
    EAF_BOOTSTRAP_ADMIN_PASSWORD a password is generated and written to a file
    in the data directory that only its owner can read.
    """
    overrides = {
        key: value
        for key, value in (
            ("bootstrap_tenant", tenant),
            ("bootstrap_admin_username", username),
        )
        if value
    }
    settings = settings_for(data_dir, **overrides)
    connections = launcher.external_connections(settings)
    if connections.owner_dsn is not None:
        launcher.migrate_servers(settings, connections)

    async def run() -> None:
        db = Database(connections.runtime_dsn, min_size=1, max_size=2)
        await db.open()
        try:
            iam = IamService(
                db,
                PostgresEventStore(db),
                KeyStore(db, launcher.signing_secret(settings)),
                platform_tenant=settings.bootstrap_tenant,
                passwords=passwords_from(settings),
                password_policy=password_policy_from(settings),
            )
            password = settings.bootstrap_admin_password
            result = await bootstrap_platform(
                iam,
                tenant=settings.bootstrap_tenant,
                username=settings.bootstrap_admin_username,
                password=password.get_secret_value() if password else None,
                data_dir=settings.data_dir,
            )
        finally:
            await db.close()
        verb = "created" if result.created_tenant else "exists"
        console.print(f"tenant {result.tenant}: {verb}")
        verb = "created" if result.created_admin else "exists"
        console.print(f"superadmin {result.username}: {verb}")
        if result.password_file is not None:
            console.print(f"its password is in {result.password_file}")

    run_async(run())
