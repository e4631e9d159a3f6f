"""`eaf events`: look at stored events and append corrections."""

from __future__ import annotations

import getpass
import json
import uuid
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
from eaf.context import ExecutionContext, use_context
from eaf.eventstore.model import RecordedEvent
from eaf.eventstore.repair import append_correction

app = typer.Typer(help="Stored events: show and correct.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
MAX_POSITION = 2**63 - 1  # positions are PostgreSQL bigint


@app.command()
@handle_errors
def show(
    tenant: Annotated[str | None, typer.Option(help="Tenant of --stream")] = None,
    stream: Annotated[str | None, typer.Option(help="A stream id")] = None,
    after: Annotated[
        int,
        typer.Option(min=0, max=MAX_POSITION, help="Global position to start after"),
    ] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Events of one stream (--tenant and --stream) or of all, by position."""
    if (tenant is None) != (stream is None):
        raise fail("give --tenant and --stream together, or neither", 2)
    settings = settings_for(data_dir)

    async def collect() -> list[RecordedEvent]:
        async with open_store(settings) as (_, _db, store):
            if tenant and stream:
                return [
                    event
                    async for event in store.read_stream(tenant, stream)
                    if event.position > after
                ][:limit]
            return await store.read_all(after, limit)

    events = run_async(collect())
    if as_json:
        for event in events:
            typer.echo(json.dumps(event.to_envelope(), default=str))
        return
    table = Table("position", "tenant", "stream", "ver", "type", "actor", "payload")
    for event in events:
        table.add_row(
            str(event.position),
            event.tenant_id,
            event.stream_id,
            str(event.stream_version),
            event.event_type,
            str(event.metadata.get("actor", "")),
            json.dumps(event.payload)[:60],
        )
    console.print(table)


@app.command()
@handle_errors
def correct(
    tenant: TenantOption,
    stream: Annotated[str, typer.Option(help="Stream to append the correction to")],
    event_type: Annotated[str, typer.Option("--type", help="Corrective event type")],
    data: Annotated[str, typer.Option(help="Payload as a JSON object")],
    reason: Annotated[str, typer.Option(help="Why; kept in the audit trail")],
    corrects: Annotated[
        str | None, typer.Option(help="Event id being corrected")
    ] = None,
    expected_version: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=MAX_POSITION,
            help="Refuse if the stream moved past this version",
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Append a corrective event; stored events are never edited or deleted."""
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise fail(f"--data is not valid JSON: {exc}", 2) from None
    if not isinstance(payload, dict):
        raise fail("--data must be a JSON object", 2)
    try:
        corrected = uuid.UUID(corrects) if corrects else None
    except ValueError:
        raise fail(f"--corrects {corrects!r} is not an event id", 2) from None
    settings = settings_for(data_dir)
    operator = f"operator:{getpass.getuser()}"

    async def run() -> RecordedEvent:
        async with open_store(settings) as (_, _db, store):
            with use_context(ExecutionContext(tenant_id=tenant, actor=operator)):
                return await append_correction(
                    store,
                    tenant_id=tenant,
                    stream_id=stream,
                    event_type=event_type,
                    payload=payload,
                    reason=reason,
                    corrects=corrected,
                    expected_version=expected_version,
                )

    recorded = run_async(run())
    console.print(
        f"[green]appended[/] {recorded.event_type} at position {recorded.position} "
        f"(stream version {recorded.stream_version}, event {recorded.event_id})"
    )
