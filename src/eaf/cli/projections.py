"""`eaf projections`: status and rebuild of read models."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from eaf.cli._common import (
    DataDirOption,
    console,
    fail,
    handle_errors,
    run_async,
    settings_for,
)
from eaf.cli._platform import open_store
from eaf.projections.operations import projection_status, rebuild_projection
from eaf.runtime.platform import all_projections

app = typer.Typer(help="Read models: status and rebuild.", no_args_is_help=True)


@app.command()
@handle_errors
def status(data_dir: DataDirOption = None) -> None:
    """Position, lag and parked events of every projection."""
    settings = settings_for(data_dir)

    async def collect() -> None:
        async with open_store(settings) as (_, db, store):
            rows = await projection_status(db, store, all_projections())
        table = Table("projection", "position", "head", "lag", "parked", "updated")
        for row in rows:
            table.add_row(
                row.name,
                str(row.position),
                str(row.head),
                str(row.lag),
                str(row.parked),
                row.updated_at.isoformat() if row.updated_at else "-",
            )
        console.print(table)

    run_async(collect())


@app.command()
@handle_errors
def rebuild(
    name: Annotated[str, typer.Argument(help="The projection to rebuild")],
    data_dir: DataDirOption = None,
) -> None:
    """Replay the event store into shadow tables and swap them in."""
    settings = settings_for(data_dir)
    by_name = {projection.name: projection for projection in all_projections()}
    projection = by_name.get(name)
    if projection is None:
        raise fail(
            f"unknown projection {name!r}; known: {', '.join(sorted(by_name))}", 2
        )

    async def run() -> int:
        async with open_store(settings) as (connections, _, store):
            if connections.owner_dsn is None:
                raise fail(
                    "a rebuild needs EAF_DATABASE_URL (the schema owner's DSN)", 2
                )
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(f"rebuilding {name}", total=None)

                def advance(position: int, head: int) -> None:
                    progress.update(task, completed=position, total=head)

                return await rebuild_projection(
                    connections.owner_dsn,
                    settings.runtime_role,
                    store,
                    projection,
                    advance,
                )

    position = run_async(run())
    console.print(f"[green]{name} rebuilt[/] up to position {position}")
