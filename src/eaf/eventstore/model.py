"""What the event store keeps: events to append and events as recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eaf.eventstore.names import context_of

ANY_VERSION: int | None = None
"""Expected version that skips the optimistic concurrency check."""

NO_STREAM = 0
"""Expected version of a stream that must not exist yet."""


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended to a stream."""

    event_type: str
    payload: dict[str, Any]
    schema_version: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored, with its place in the stream and in the global order."""

    position: int
    event_id: uuid.UUID
    tenant_id: str
    stream_id: str
    stream_type: str
    stream_version: int
    event_type: str
    schema_version: int
    payload: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    @property
    def context_name(self) -> str:
        """The bounded context the stream type belongs to (``iam.user`` -> ``iam``)."""
        return context_of(self.stream_type)

    def to_envelope(self) -> dict[str, Any]:
        """A JSON-ready form, used on the bus and in parked messages."""
        return {
            "position": self.position,
            "event_id": str(self.event_id),
            "tenant_id": self.tenant_id,
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "stream_version": self.stream_version,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "payload": self.payload,
            "metadata": self.metadata,
            "recorded_at": self.recorded_at.isoformat(),
        }

    @classmethod
    def from_envelope(cls, data: dict[str, Any]) -> RecordedEvent:
        return cls(
            position=int(data["position"]),
            event_id=uuid.UUID(data["event_id"]),
            tenant_id=data["tenant_id"],
            stream_id=data["stream_id"],
            stream_type=data["stream_type"],
            stream_version=int(data["stream_version"]),
            event_type=data["event_type"],
            schema_version=int(data["schema_version"]),
            payload=data["payload"],
            metadata=data.get("metadata", {}),
            recorded_at=datetime.fromisoformat(data["recorded_at"]),
        )


@dataclass(frozen=True)
class Snapshot:
    """Aggregate state at a stream version, tagged with the shape it was taken in."""

    tenant_id: str
    stream_id: str
    stream_type: str
    stream_version: int
    snapshot_version: int
    state: dict[str, Any]
