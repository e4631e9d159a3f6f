"""Appends in large batches, and appends whose transaction then idles."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from eaf.db.pool import Database
from eaf.errors import InfrastructureError
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore


async def test_idle_lock_holder_is_cut_and_writers_go_on(
    db: Database, tenant: str
) -> None:
    # Only the stuck writer's transaction gets the short timeout: the other
    # writer, once through, must not be cut by a pause of this process.
    store = PostgresEventStore(db, lock_idle_timeout_s=1.0)
    patient = PostgresEventStore(db)
    holding = asyncio.Event()
    other_done = asyncio.Event()

    async def stuck_writer() -> None:
        async with db.transaction(tenant) as conn:
            stuck = [NewEvent("Counted", {"n": 0})]
            await store.append(
                tenant, "stuck", "test.counter", stuck, NO_STREAM, conn=conn
            )
            holding.set()
            # Idle inside the transaction, holding the append lock, until the
            # other writer got through (or the test gives up).
            await asyncio.wait_for(other_done.wait(), timeout=60)
            await conn.execute("SELECT 1")

    stuck = asyncio.create_task(stuck_writer())
    await asyncio.wait_for(holding.wait(), timeout=30)
    other = [NewEvent("Counted", {"n": 1})]
    written = await asyncio.wait_for(
        patient.append(tenant, "other", "test.counter", other, NO_STREAM), timeout=60
    )
    other_done.set()

    with pytest.raises((psycopg.Error, InfrastructureError)):
        await stuck
    assert [event.event_id for event in written] == [other[0].event_id]
    assert await store.stream_version(tenant, "stuck") == 0
    assert await store.stream_version(tenant, "other") == 1


async def test_large_append_is_stored_whole_and_in_order(
    store: PostgresEventStore, tenant: str
) -> None:
    events = [NewEvent("Counted", {"n": n}) for n in range(2500)]

    recorded = await store.append(tenant, "big", "test.counter", events, NO_STREAM)

    assert [event.event_id for event in recorded] == [e.event_id for e in events]
    assert [event.stream_version for event in recorded] == list(range(1, 2501))
    positions = [event.position for event in recorded]
    assert positions == sorted(positions)
    stored = [event.event_id async for event in store.read_stream(tenant, "big")]
    assert stored == [event.event_id for event in events]
