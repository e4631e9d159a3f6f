"""Aggregates: plain classes that check invariants and record events.

No I/O happens here. A command method decides, then ``record``s events; ``apply``
changes state and is the only place that does, so replay and live handling agree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """A fact that happened. Subclasses are named in the past tense."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__


class Aggregate(ABC):
    """A consistency boundary with its own event stream."""

    stream_type: ClassVar[str]
    """``<context>.<kind>``, for example ``iam.user``; the context names subjects."""

    event_types: ClassVar[tuple[type[DomainEvent], ...]] = ()
    snapshot_version: ClassVar[int] = 1
    """Bump when the snapshot shape changes; older snapshots are then ignored."""

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self._pending: list[DomainEvent] = []

    @classmethod
    def stream_id_for(cls, aggregate_id: str) -> str:
        return f"{cls.stream_type.split('.')[-1]}-{aggregate_id}"

    @property
    def stream_id(self) -> str:
        return self.stream_id_for(self.id)

    @classmethod
    def decode_event(cls, event_type: str, payload: dict[str, Any]) -> DomainEvent:
        for candidate in cls.event_types:
            if candidate.event_type() == event_type:
                return candidate.model_validate(payload)
        raise LookupError(f"{cls.__name__} does not know event type {event_type!r}")

    def record(self, event: DomainEvent) -> None:
        self.apply(event)
        self._pending.append(event)

    def replay(self, event: DomainEvent) -> None:
        self.apply(event)
        self.version += 1

    def pending_events(self) -> list[DomainEvent]:
        return list(self._pending)

    def mark_saved(self, new_version: int) -> None:
        self._pending.clear()
        self.version = new_version

    @abstractmethod
    def apply(self, event: DomainEvent) -> None:
        """Change state for ``event``."""

    def snapshot_state(self) -> dict[str, Any] | None:
        """State to snapshot, or None if this aggregate takes no snapshots."""
        return None

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        raise NotImplementedError(f"{cls.__name__} takes no snapshots")
