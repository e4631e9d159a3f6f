"""The event store: streams of immutable events in PostgreSQL."""

from eaf.eventstore.errors import (
    ConcurrencyError,
    EventStoreError,
    StreamNotFoundError,
    TenantRequiredError,
)
from eaf.eventstore.model import (
    ANY_VERSION,
    NO_STREAM,
    NewEvent,
    RecordedEvent,
    Snapshot,
)
from eaf.eventstore.names import InvalidNameError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.eventstore.upcasting import UpcasterChain

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "ConcurrencyError",
    "EventStoreError",
    "InvalidNameError",
    "NewEvent",
    "PostgresEventStore",
    "RecordedEvent",
    "Snapshot",
    "StreamNotFoundError",
    "TenantRequiredError",
    "UpcasterChain",
]
