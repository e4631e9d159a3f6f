"""`eaf dlq`: events parked by consumers, and replaying them."""

from __future__ import annotations

from typing import Annotated

import typer
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
from eaf.projections.operations import ReplayResult, list_parked, replay_parked
from eaf.runtime.platform import all_projections

app = typer.Typer(help="Parked (dead-lettered) events.", no_args_is_help=True)


@app.command(name="list")
@handle_errors
def list_command(
    consumer: Annotated[str | None, typer.Option(help="Only this consumer")] = None,
    include_replayed: Annotated[
        bool, typer.Option("--all", help="Also replayed ones")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """List parked events with their errors."""
    settings = settings_for(data_dir)

    async def collect() -> None:
        async with open_store(settings) as (_, db, _store):
            parked = await list_parked(db, consumer, include_replayed)
        table = Table(
            "id",
            "consumer",
            "position",
            "tenant",
            "event",
            "attempts",
            "error",
            "replayed",
        )
        for item in parked:
            table.add_row(
                str(item.id),
                item.consumer,
                str(item.position),
                item.tenant_id,
                item.event_type,
                str(item.attempts),
                item.error[:80],
                item.replayed_at.isoformat() if item.replayed_at else "",
            )
        console.print(table)
        console.print(f"{len(parked)} parked")

    run_async(collect())


@app.command()
@handle_errors
def replay(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Parked ids; all if none")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Apply parked events again; those that fail stay parked."""
    settings = settings_for(data_dir)

    async def run() -> list[ReplayResult]:
        async with open_store(settings) as (_, db, _store):
            return await replay_parked(db, all_projections(), ids or None)

    results = run_async(run())
    failed = 0
    for result in results:
        if result.succeeded:
            console.print(f"[green]replayed[/] {result.id} ({result.event_id})")
        else:
            failed += 1
            console.print(f"[red]failed[/] {result.id}: {result.error}")
    console.print(f"{len(results) - failed} replayed, {failed} failed")
    missing = sorted(set(ids or ()) - {result.id for result in results})
    if missing:
        listed = ", ".join(str(parked_id) for parked_id in missing)
        raise fail(f"not among the parked events awaiting replay: {listed}")
    if failed:
        raise fail("some parked events failed again; fix the handler and replay", 1)
