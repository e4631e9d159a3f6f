"""Repairing history without rewriting it: corrective events.

A stored event is never edited or deleted. An operator appends a corrective
event to the same stream; its metadata names the event it corrects, the reason
and the operator, so the correction is part of the audit trail.

A correction must take full effect or none. Many commands write more than
their events: a tenant's status row that logins read, username claims, seat
counts. Replaying events and rebuilding projections does not restore those
tables, so event types whose commands write them are refused and the operator
is pointed at the command. For every other type the stream's schema names a
decision that runs the aggregate's own command on the stream as loaded; the
correction is stored only if that command records exactly the same event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from eaf.context import current_context
from eaf.errors import EAFError
from eaf.eventstore.errors import EventStoreError, StreamNotFoundError
from eaf.eventstore.model import NewEvent, RecordedEvent
from eaf.eventstore.postgres import PostgresEventStore

if TYPE_CHECKING:
    from eaf.application.aggregate import Aggregate

Decision = Callable[[Any, Any], Sequence[object]]
"""Run the command that ``event`` stands for on ``aggregate`` (as loaded).

Returns the events the command recorded; raises as the command would.
"""


class CorrectionRejectedError(EventStoreError):
    """A correction was refused before anything was written."""


@dataclass(frozen=True)
class CommandOnly:
    """Why an event type may only be recorded by its command, and what to run.

    ``instead`` may name ``{id}`` (the aggregate's id, from the stream id)
    and ``{tenant}``; both are filled in for the message.
    """

    why: str
    instead: str


class CommandOnlyError(CorrectionRejectedError):
    """A decision found that this particular change needs the command."""

    def __init__(self, rule: CommandOnly) -> None:
        super().__init__(rule.why)
        self.rule = rule


@dataclass(frozen=True)
class StreamSchema:
    """The events one stream type accepts and how its aggregate replays them.

    ``decode`` raises on a payload its event type refuses; ``encode`` gives the
    payload as the aggregate itself would store it; ``rebuild`` replays decoded
    events in order and raises if the aggregate cannot load from them.
    ``correctable`` holds a decision per event type a correction may add;
    ``command_only`` says, per other event type, which command to use.
    """

    stream_type: str
    schema_versions: Mapping[str, int]
    decode: Callable[[str, dict[str, Any]], object]
    encode: Callable[[object], dict[str, Any]]
    rebuild: Callable[[str, list[object]], object]
    correctable: Mapping[str, Decision] = field(default_factory=dict)
    command_only: Mapping[str, CommandOnly] = field(default_factory=dict)

    @classmethod
    def of_aggregate(
        cls,
        aggregate_type: type[Aggregate],
        *,
        correctable: Mapping[str, Decision] | None = None,
        command_only: Mapping[str, CommandOnly] | None = None,
    ) -> StreamSchema:
        """The schema of an :class:`~eaf.application.Aggregate` subclass."""

        def rebuild(stream_id: str, events: list[object]) -> object:
            aggregate = aggregate_type(stream_id.split("-", 1)[-1])
            for event in events:
                aggregate.replay(event)  # type: ignore[arg-type]
            return aggregate

        def encode(event: object) -> dict[str, Any]:
            return dict(event.model_dump(mode="json"))  # type: ignore[attr-defined]

        return cls(
            stream_type=aggregate_type.stream_type,
            schema_versions={
                event.event_type(): event.schema_version
                for event in aggregate_type.event_types
            },
            decode=aggregate_type.decode_event,
            encode=encode,
            rebuild=rebuild,
            correctable=correctable or {},
            command_only=command_only or {},
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
            the stream, the stream type or event type is unknown, only a
            command may record the event type, the payload is invalid, or the
            aggregate's command would refuse or record something else.
        ConcurrencyError: ``expected_version`` is stale, or the stream moved
            while the correction was being checked.
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
    # Appending at the version the decision saw: if a command got in between,
    # the append fails instead of storing an event decided on stale state.
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
    """The payload as the aggregate stores it, once its command agrees."""
    stream = history[-1]
    decide = _decision_for(schema, stream, event_type)
    try:
        event = schema.decode(event_type, payload)
    except Exception as exc:  # any refusal of the event's own validation
        raise CorrectionRejectedError(
            f"{event_type} payload is invalid: {_describe(exc)}"
        ) from exc
    decoded = [_decode_stored(schema, stored) for stored in history]
    try:
        aggregate = schema.rebuild(stream.stream_id, decoded)
    except Exception as exc:  # the aggregate's own apply refused the history
        raise CorrectionRejectedError(
            f"stream {stream.stream_id!r} no longer loads as {schema.stream_type}: "
            f"{_describe(exc)}; it needs an upcaster, not a correction"
        ) from exc
    try:
        recorded = decide(aggregate, event)
    except CommandOnlyError as exc:
        raise _command_only(exc.rule, stream, event_type) from None
    except (EAFError, ValueError) as exc:  # the command's own rules
        raise CorrectionRejectedError(
            f"{event_type} is refused as its command would refuse it: {_describe(exc)}"
        ) from exc
    return _same_as_command(schema, event_type, event, recorded)


def _decision_for(
    schema: StreamSchema, stream: RecordedEvent, event_type: str
) -> Decision:
    if event_type not in schema.schema_versions:
        known = ", ".join(sorted(schema.schema_versions))
        raise CorrectionRejectedError(
            f"{event_type!r} is not an event of {schema.stream_type}; "
            f"use one of: {known}"
        )
    rule = schema.command_only.get(event_type)
    if rule is not None:
        raise _command_only(rule, stream, event_type)
    decide = schema.correctable.get(event_type)
    if decide is None:
        raise CorrectionRejectedError(
            f"{event_type} of {schema.stream_type} has no correction rule; "
            "use the command that records it"
        )
    return decide


def _command_only(
    rule: CommandOnly, stream: RecordedEvent, event_type: str
) -> CorrectionRejectedError:
    aggregate_id = stream.stream_id.split("-", 1)[-1]
    instead = rule.instead.format(id=aggregate_id, tenant=stream.tenant_id)
    return CorrectionRejectedError(
        f"{event_type} cannot be a correction: {rule.why}; instead {instead}"
    )


def _same_as_command(
    schema: StreamSchema,
    event_type: str,
    event: object,
    recorded: Sequence[object],
) -> dict[str, Any]:
    """The payload, if the command recorded exactly this one event."""
    if not recorded:
        raise CorrectionRejectedError(
            f"{event_type} changes nothing: its command would record no event "
            "in the stream's current state"
        )
    given = schema.encode(event)
    expected = [(type(item), schema.encode(item)) for item in recorded]
    if expected == [(type(event), given)]:
        return given
    if len(recorded) == 1 and type(recorded[0]) is type(event):
        raise CorrectionRejectedError(
            f"{event_type} differs from what its command records: "
            f"{_differences(expected[0][1], given)}"
        )
    names = ", ".join(type(item).__name__ for item in recorded)
    raise CorrectionRejectedError(
        f"{event_type} is not what its command records here ({names})"
    )


def _differences(expected: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    return "; ".join(
        f"{name} would be {_shorten(expected.get(name))}"
        for name in sorted(expected.keys() | given.keys())
        if expected.get(name) != given.get(name)
    )


def _shorten(value: object, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


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
