"""A small aggregate for tests of the application layer."""

from __future__ import annotations

from typing import Any, Self

from eaf.application import Aggregate, DomainEvent
from eaf.errors import DomainError


class Incremented(DomainEvent):
    by: int


class Renamed(DomainEvent):
    name: str


class Counter(Aggregate):
    stream_type = "test.counter"
    event_types = (Incremented, Renamed)
    snapshot_version = 2

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.total = 0
        self.name = ""
        self.changes = 0

    def increment(self, by: int) -> None:
        if by <= 0:
            raise DomainError("increments must be positive")
        self.record(Incremented(by=by))

    def rename(self, name: str) -> None:
        self.record(Renamed(name=name))

    def apply(self, event: DomainEvent) -> None:
        match event:
            case Incremented(by=by):
                self.total += by
            case Renamed(name=name):
                self.name = name
        self.changes += 1

    def snapshot_state(self) -> dict[str, Any] | None:
        return {"total": self.total, "name": self.name, "changes": self.changes}

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        counter = cls(aggregate_id)
        counter.total = state["total"]
        counter.name = state["name"]
        counter.changes = state["changes"]
        return counter
