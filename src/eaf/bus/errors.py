"""Errors of the event bus."""

from __future__ import annotations

from eaf.errors import InfrastructureError


class BusError(InfrastructureError):
    """NATS or JetStream refused or failed an operation."""


class StreamMissingError(BusError):
    """The event stream does not exist; ``ensure_stream`` creates it."""

    def __init__(self, stream_name: str) -> None:
        super().__init__(f"stream {stream_name} does not exist")
        self.stream_name = stream_name
