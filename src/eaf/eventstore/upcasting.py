"""Upcasters turn old event schema versions into the current one on read.

Stored rows are never rewritten: each read converts, one version step at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from eaf.eventstore.errors import EventStoreError
from eaf.eventstore.model import RecordedEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UpcasterChain:
    """Registered steps ``(event_type, from_version) -> payload at from_version+1``."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(
        self, event_type: str, from_version: int
    ) -> Callable[[Upcaster], Upcaster]:
        """Decorator registering the step from ``from_version`` to the next one."""

        def decorate(step: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._steps:
                raise EventStoreError(
                    f"an upcaster for {event_type} v{from_version} already exists"
                )
            self._steps[key] = step
            return step

        return decorate

    def upcast(self, event: RecordedEvent) -> RecordedEvent:
        """Apply every step that applies, in version order."""
        payload = event.payload
        version = event.schema_version
        while (step := self._steps.get((event.event_type, version))) is not None:
            payload = step(dict(payload))
            version += 1
        if version == event.schema_version:
            return event
        return replace(event, payload=payload, schema_version=version)
