"""Repairing history without rewriting it: corrective events.

A stored event is never edited or deleted. An operator appends a corrective
event to the same stream; its metadata names the event it corrects, the reason
and who decided, so the correction is part of the audit trail.
"""

from __future__ import annotations

import uuid
from typing import Any

from eaf.context import current_context
from eaf.eventstore.errors import EventStoreError, StreamNotFoundError
from eaf.eventstore.model import NewEvent, RecordedEvent
from eaf.eventstore.postgres import PostgresEventStore


class CorrectionRejectedError(EventStoreError):
    """A correction was refused before anything was written."""


async def append_correction(
    store: PostgresEventStore,
    *,
    tenant_id: str,
    stream_id: str,
    event_type: str,
    payload: dict[str, Any],
    reason: str,
    corrects: uuid.UUID | None = None,
    expected_version: int | None = None,
) -> RecordedEvent:
    """Append a corrective event to an existing stream.

    Raises:
        StreamNotFoundError: the stream has no events.
        CorrectionRejectedError: no reason, or ``corrects`` is not in the stream.
        ConcurrencyError: ``expected_version`` is stale.
    """
    if not reason.strip():
        raise CorrectionRejectedError("a correction needs a reason")
    events = [event async for event in store.read_stream(tenant_id, stream_id)]
    if not events:
        raise StreamNotFoundError(tenant_id, stream_id)
    if corrects is not None and corrects not in {event.event_id for event in events}:
        raise CorrectionRejectedError(
            f"event {corrects} is not in stream {stream_id!r} of tenant {tenant_id!r}"
        )
    context = current_context()
    metadata: dict[str, Any] = {
        **context.metadata(),
        "correction": {
            "reason": reason.strip(),
            "corrects": str(corrects) if corrects else None,
        },
    }
    version = (
        events[-1].stream_version if expected_version is None else expected_version
    )
    [recorded] = await store.append(
        tenant_id,
        stream_id,
        events[-1].stream_type,
        [NewEvent(event_type, payload, metadata=metadata)],
        version,
    )
    return recorded
