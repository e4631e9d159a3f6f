"""Errors of the event store."""

from __future__ import annotations

from eaf.errors import EAFError


class EventStoreError(EAFError):
    """Base class of event store errors."""


class ConcurrencyError(EventStoreError):
    """The stream moved on since it was read: the expected version is stale.

    Nothing of the rejected append was written.
    """

    def __init__(
        self, tenant_id: str, stream_id: str, expected: int, actual: int
    ) -> None:
        super().__init__(
            f"stream {stream_id!r} of tenant {tenant_id!r} is at version {actual}, "
            f"expected {expected}; reload the stream and retry the command"
        )
        self.tenant_id = tenant_id
        self.stream_id = stream_id
        self.expected_version = expected
        self.actual_version = actual


class StreamNotFoundError(EventStoreError):
    """A stream that must exist has no events."""

    def __init__(self, tenant_id: str, stream_id: str) -> None:
        super().__init__(f"stream {stream_id!r} of tenant {tenant_id!r} not found")
        self.tenant_id = tenant_id
        self.stream_id = stream_id


class TenantRequiredError(EventStoreError):
    """A tenant-scoped operation ran without a tenant id."""
