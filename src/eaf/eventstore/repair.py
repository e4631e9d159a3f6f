"""Repairing history without rewriting it: corrective events.

A stored event is never edited or deleted. An operator appends a corrective
event to the same stream; its metadata names the event it corrects, the reason
and the operator, so the correction is part of the audit trail.

A correction must be an event the stream's aggregate knows, with a payload that
event accepts, and the aggregate must still load with it: a stream that no
longer replays cannot be changed by any command again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from eaf.context import current_context
from eaf.eventstore.errors import EventStoreError, StreamNotFoundError
from eaf.eventstore.model import NewEvent, RecordedEvent
from eaf.eventstore.postgres import PostgresEventStore

if TYPE_CHECKING:
    from eaf.application.aggregate import Aggregate


class CorrectionRejectedError(EventStoreError):
    """A correction was refused before anything was written."""


@dataclass(frozen=True)
class StreamSchema:
    """The events one stream type accepts and how its aggregate replays them.

    ``decode`` raises on a payload its event type refuses; ``encode`` gives the
    payload as the aggregate itself would store it; ``rebuild`` replays decoded
    events in order and raises if the aggregate cannot load from them.
    """

    stream_type: str
    schema_versions: Mapping[str, int]
    decode: Callable[[str, dict[str, Any]], object]
    encode: Callable[[object], dict[str, Any]]
    rebuild: Callable[[str, list[object]], object]

    @classmethod
    def of_aggregate(cls, aggregate_type: type[Aggregate]) -> StreamSchema:
        """The schema of an :class:`~eaf.application.Aggregate` subclass."""

        def rebuild(stream_id: str, events: list[object]) -> object:
            aggregate = aggregate_type(stream_id)
            for event in events:
                aggregate.replay(event)  # type: ignore[arg-type]
            return aggregate

        return cls(
            stream_type=aggregate_type.stream_type,
            schema_versions={
                event.event_type(): event.schema_version
                for event in aggregate_type.event_types
            },
            decode=aggregate_type.decode_event,
            encode=lambda event: event.model_dump(mode="json"),  # type: ignore[attr-defined]
            rebuild=rebuild,
        )


async def append_correction(
    store: PostgresEventStore,
    schemas: Mapping[str, StreamSchema],
    *,
    tenant_id: str,
    stream_id: str,
    event_type: str,
    payload: dict[str, Any],
    reason: str,
    operator: str,
    corrects: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> RecordedEvent:
    """Append a corrective event to an existing stream of a known type.

    Raises:
        StreamNotFoundError: the stream has no events.
        CorrectionRejectedError: no reason or operator, ``corrects`` is not in
            the stream, the stream type or event type is unknown, the payload
            is invalid, or the aggregate would not load with the event.
        ConcurrencyError: ``expected_version`` is stale.
    """
    if not reason.strip():
        raise CorrectionRejectedError("a correction needs a reason")
    if not operator.strip():
        raise CorrectionRejectedError("a correction needs the operator's name")
    events = [event async for event in store.read_stream(tenant_id, stream_id)]
    if not events:
        raise StreamNotFoundError(tenant_id, stream_id)
    if corrects is not None and corrects not in {event.event_id for event in events}:
        raise CorrectionRejectedError(
            f"event {corrects} is not in stream {stream_id!r} of tenant {tenant_id!r}"
        )
    schema = _schema_for(schemas, events[-1].stream_type, stream_id)
    stored_payload = _checked_payload(schema, events, event_type, payload)
    metadata: dict[str, Any] = {
        **current_context().metadata(),
        "correction": {
            "reason": reason.strip(),
            "corrects": str(corrects) if corrects else None,
            "operator": operator.strip(),
        },
    }
    version = (
        events[-1].stream_version if expected_version is None else expected_version
    )
    [recorded] = await store.append(
        tenant_id,
        stream_id,
        schema.stream_type,
        [
            NewEvent(
                event_type,
                stored_payload,
                schema_version=schema.schema_versions[event_type],
                metadata=metadata,
            )
        ],
        version,
    )
    return recorded


def _schema_for(
    schemas: Mapping[str, StreamSchema], stream_type: str, stream_id: str
) -> StreamSchema:
    schema = schemas.get(stream_type)
    if schema is None:
        raise CorrectionRejectedError(
            f"stream {stream_id!r} is of type {stream_type!r}, which no aggregate "
            "of this release knows; corrections are refused"
        )
    return schema


def _checked_payload(
    schema: StreamSchema,
    history: Sequence[RecordedEvent],
    event_type: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The payload as the aggregate stores it, once it is known to replay."""
    if event_type not in schema.schema_versions:
        known = ", ".join(sorted(schema.schema_versions))
        raise CorrectionRejectedError(
            f"{event_type!r} is not an event of {schema.stream_type}; "
            f"use one of: {known}"
        )
    try:
        event = schema.decode(event_type, payload)
    except Exception as exc:  # any refusal of the event's own validation
        raise CorrectionRejectedError(
            f"{event_type} payload is invalid: {_describe(exc)}"
        ) from exc
    decoded = [_decode_stored(schema, stored) for stored in history]
    try:
        schema.rebuild(history[-1].stream_id, [*decoded, event])
    except Exception as exc:  # the aggregate's own apply refused the history
        raise CorrectionRejectedError(
            f"{schema.stream_type} would no longer load with this {event_type}: "
            f"{_describe(exc)}"
        ) from exc
    return schema.encode(event)


def _decode_stored(schema: StreamSchema, stored: RecordedEvent) -> object:
    try:
        return schema.decode(stored.event_type, stored.payload)
    except Exception as exc:  # history this release cannot read
        raise CorrectionRejectedError(
            f"stream {stored.stream_id!r} already fails to load at version "
            f"{stored.stream_version} ({stored.event_type}): {_describe(exc)}; "
            "it needs an upcaster, not a correction"
        ) from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'payload'}: "
            f"{error['msg']}"
            for error in exc.errors()
        )
    return " ".join(str(exc).split()) or type(exc).__name__
