"""`eaf events`: look at stored events and append corrections."""

from __future__ import annotations

import json
import typing
import uuid
from collections.abc import Mapping
from dataclasses import fields
from typing import Annotated, Any

import typer
from rich.table import Table

from eaf.application.aggregate import Aggregate
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
from eaf.eventstore.repair import StreamSchema, append_correction
from eaf.iam.domain.clients import BrowserClient, ServiceAccount
from eaf.iam.domain.role import Role
from eaf.iam.domain.tenant import Tenant
from eaf.iam.domain.user import User
from eaf.licensing.adapters.postgres import STREAM_TYPE as LICENSE_STREAM_TYPE
from eaf.licensing.domain.catalog import PolicyDefinition, Product
from eaf.licensing.domain.events import (
    EVENT_TYPES as LICENSE_EVENT_TYPES,
)
from eaf.licensing.domain.events import (
    LicenseEvent,
    event_from_payload,
    event_to_payload,
)
from eaf.licensing.domain.keyset import SigningKeySet
from eaf.licensing.domain.license import License

app = typer.Typer(help="Stored events: show and correct.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
MAX_POSITION = 2**63 - 1  # positions are PostgreSQL bigint
MAX_OPERATOR_LENGTH = 200

AGGREGATES: tuple[type[Aggregate], ...] = (
    Tenant,
    User,
    Role,
    ServiceAccount,
    BrowserClient,
    Product,
    PolicyDefinition,
    SigningKeySet,
)


def known_streams() -> dict[str, StreamSchema]:
    """Every stream type this release writes, with the events it accepts."""
    schemas = {
        aggregate.stream_type: StreamSchema.of_aggregate(aggregate)
        for aggregate in AGGREGATES
    }
    schemas[LICENSE_STREAM_TYPE] = StreamSchema(
        stream_type=LICENSE_STREAM_TYPE,
        schema_versions={
            name: event.schema_version for name, event in LICENSE_EVENT_TYPES.items()
        },
        decode=_decode_license_event,
        encode=_encode_license_event,
        rebuild=_rebuild_license,
    )
    return schemas


def _decode_license_event(event_type: str, payload: Mapping[str, Any]) -> object:
    """A license event, refusing unknown fields and non-text where text belongs."""
    event_class = LICENSE_EVENT_TYPES.get(event_type)
    if event_class is not None:
        hints = typing.get_type_hints(event_class)
        names = {item.name for item in fields(event_class)}
        unknown = sorted(payload.keys() - names)
        if unknown:
            raise ValueError(f"unknown fields {unknown}")
        for name in names & payload.keys():
            if hints[name] is str and not isinstance(payload[name], str):
                raise ValueError(f"{name}: must be a string")
    return event_from_payload(event_type, payload)


def _encode_license_event(event: object) -> dict[str, Any]:
    assert isinstance(event, LicenseEvent)
    return event_to_payload(event)


def _rebuild_license(stream_id: str, events: list[object]) -> object:
    license_events = [event for event in events if isinstance(event, LicenseEvent)]
    ids = {event.license_id for event in license_events}
    if len(ids) > 1:
        raise ValueError(f"events name several licenses: {sorted(ids)}")
    return License.from_events(license_events)


def _operator_name(operator: str) -> str:
    name = operator.strip()
    if not name or len(name) > MAX_OPERATOR_LENGTH:
        raise fail(f"--operator must be 1 to {MAX_OPERATOR_LENGTH} characters", 2)
    if not name.isprintable():
        raise fail("--operator must be printable text", 2)
    return name


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
    operator: Annotated[
        str, typer.Option(help="Who decides the correction; kept in the audit trail")
    ],
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
    """Append a corrective event; stored events are never edited or deleted.

    The event type must be one the stream's aggregate knows and the payload
    must pass that event's validation; otherwise nothing is written.
    """
    operator_name = _operator_name(operator)
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
    actor = f"operator:{operator_name}"
    # TODO: a correction bypasses the lookup tables commands keep in step with
    # their events (usernames, e-mails, seats); where a service command does
    # the same change, that command is the safer repair.

    async def run() -> RecordedEvent:
        async with open_store(settings) as (_, _db, store):
            with use_context(ExecutionContext(tenant_id=tenant, actor=actor)):
                return await append_correction(
                    store,
                    known_streams(),
                    tenant_id=tenant,
                    stream_id=stream,
                    event_type=event_type,
                    payload=payload,
                    reason=reason,
                    operator=operator_name,
                    corrects=corrected,
                    expected_version=expected_version,
                )

    recorded = run_async(run())
    console.print(
        f"[green]appended[/] {recorded.event_type} at position {recorded.position} "
        f"(stream version {recorded.stream_version}, event {recorded.event_id})"
    )
