"""Loading and saving aggregates through the event store, with snapshots."""

from __future__ import annotations

from typing import Generic, TypeVar

from eaf.application.aggregate import Aggregate
from eaf.context import current_context
from eaf.db.pool import Connection
from eaf.eventstore.model import NO_STREAM, NewEvent, Snapshot
from eaf.eventstore.postgres import PostgresEventStore

A = TypeVar("A", bound=Aggregate)


class Repository(Generic[A]):
    """Loads from the newest usable snapshot plus later events; saves by append."""

    def __init__(
        self,
        store: PostgresEventStore,
        aggregate_type: type[A],
        snapshot_every: int | None = None,
    ) -> None:
        self.store = store
        self.aggregate_type = aggregate_type
        self.snapshot_every = snapshot_every

    async def load(self, tenant_id: str, aggregate_id: str) -> A | None:
        stream_id = self.aggregate_type.stream_id_for(aggregate_id)
        aggregate = await self._from_snapshot(tenant_id, aggregate_id, stream_id)
        return await self._replay(tenant_id, aggregate_id, aggregate)

    async def load_without_snapshot(
        self, tenant_id: str, aggregate_id: str
    ) -> A | None:
        return await self._replay(tenant_id, aggregate_id, None)

    async def _replay(
        self, tenant_id: str, aggregate_id: str, aggregate: A | None
    ) -> A | None:
        """Apply the events after ``aggregate``'s version (all, without one)."""
        stream_id = self.aggregate_type.stream_id_for(aggregate_id)
        start = aggregate.version if aggregate else 0
        async for recorded in self.store.read_stream(tenant_id, stream_id, start):
            aggregate = aggregate or self.aggregate_type(aggregate_id)
            aggregate.replay(
                self.aggregate_type.decode_event(recorded.event_type, recorded.payload)
            )
        return aggregate

    async def _from_snapshot(
        self, tenant_id: str, aggregate_id: str, stream_id: str
    ) -> A | None:
        if self.snapshot_every is None:
            return None
        snapshot = await self.store.load_snapshot(tenant_id, stream_id)
        if snapshot is None:
            return None
        if snapshot.snapshot_version != self.aggregate_type.snapshot_version:
            return None  # taken of an older shape: replay instead of misreading
        aggregate = self.aggregate_type.from_snapshot(aggregate_id, snapshot.state)
        aggregate.version = snapshot.stream_version
        return aggregate

    async def save(
        self, tenant_id: str, aggregate: A, *, conn: Connection | None = None
    ) -> int:
        """Append the pending events; return the new stream version."""
        pending = aggregate.pending_events()
        if not pending:
            return aggregate.version
        metadata = current_context().metadata()
        events = [
            NewEvent(
                event_type=event.event_type(),
                schema_version=event.schema_version,
                payload=event.model_dump(mode="json"),
                metadata=metadata,
            )
            for event in pending
        ]
        expected = aggregate.version if aggregate.version else NO_STREAM
        recorded = await self.store.append(
            tenant_id,
            aggregate.stream_id,
            self.aggregate_type.stream_type,
            events,
            expected,
            conn=conn,
        )
        new_version = recorded[-1].stream_version
        aggregate.mark_saved(new_version)
        if conn is None:
            await self._maybe_snapshot(tenant_id, aggregate, len(recorded))
        return new_version

    async def _maybe_snapshot(
        self, tenant_id: str, aggregate: A, appended: int
    ) -> None:
        if self.snapshot_every is None:
            return
        crossed = aggregate.version // self.snapshot_every > (
            (aggregate.version - appended) // self.snapshot_every
        )
        state = aggregate.snapshot_state() if crossed else None
        if state is None:
            return
        await self.store.save_snapshot(
            Snapshot(
                tenant_id=tenant_id,
                stream_id=aggregate.stream_id,
                stream_type=self.aggregate_type.stream_type,
                stream_version=aggregate.version,
                snapshot_version=self.aggregate_type.snapshot_version,
                state=state,
            )
        )
