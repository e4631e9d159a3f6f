"""Errors of the event bus."""

from __future__ import annotations

from eaf.errors import InfrastructureError


class BusError(InfrastructureError):
    """NATS or JetStream refused or failed an operation."""
