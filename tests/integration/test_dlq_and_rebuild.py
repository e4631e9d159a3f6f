"""Parking what kills the consumer, and rebuilds that settle parked events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from eaf.bus.nats import NatsBus
from eaf.bus.relay import Relay
from eaf.db.pool import Connection, Database
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore, RecordedEvent
from eaf.projections.operations import (
    list_parked,
    rebuild_projection,
    replay_parked,
)
from eaf.projections.runner import ProjectionRunner
from tests.support.projections import (
    RecordingProjection,
    applied_counts,
    create_applied_table,
    wait_until,
)
from tests.support.servers import RUNTIME_ROLE, ClonedDatabase


class HangingProjection(RecordingProjection):
    """Never returns from the event whose payload ``n`` is ``hang_on``."""

    def __init__(self, hang_on: int) -> None:
        super().__init__()
        self.hang_on = hang_on
        self.hangs = 0

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        if event.payload.get("n") == self.hang_on:
            self.hangs += 1
            await asyncio.Event().wait()
        await super().apply(conn, event)


@contextlib.asynccontextmanager
async def relaying(
    database: ClonedDatabase, store: PostgresEventStore, bus: NatsBus
) -> AsyncIterator[Relay]:
    relay = Relay(database.runtime_dsn, store, bus)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield relay
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def append_numbered(
    store: PostgresEventStore, tenant_id: str, count: int, start: int = 0
) -> list[str]:
    ids = []
    for n in range(start, start + count):
        event = NewEvent("Counted", {"n": n})
        await store.append(tenant_id, f"c-{n}", "test.counter", [event], NO_STREAM)
        ids.append(str(event.event_id))
    return ids


@contextlib.asynccontextmanager
async def running(runner: ProjectionRunner) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def kill_while_hanging(runner: ProjectionRunner, hangs: int) -> None:
    """Run ``runner`` until the ``hangs``-th hang, then cancel it unacked.

    Nothing is acknowledged or rejected, as when the process is killed.
    """
    projection = runner.projection
    assert isinstance(projection, HangingProjection)
    task = asyncio.create_task(runner.run(asyncio.Event()))
    try:
        await wait_until(lambda: projection.hangs >= hangs, timeout_s=60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_message_that_keeps_hanging_is_parked_after_max_deliver(
    database: ClonedDatabase,
    db: Database,
    store: PostgresEventStore,
    bus: NatsBus,
    tenant: str,
) -> None:
    create_applied_table(database.owner_dsn)
    ids = await append_numbered(store, tenant, 6)
    projection = HangingProjection(hang_on=2)

    def new_runner() -> ProjectionRunner:
        return ProjectionRunner(db, bus, projection, max_deliver=3, ack_wait_s=1.0)

    async with relaying(database, store, bus):
        for hangs in (1, 2):
            await kill_while_hanging(new_runner(), hangs)
        async with running(new_runner()):
            await wait_until(lambda: _applied(database.owner_dsn, 5), timeout_s=60)

    assert projection.hangs == 2
    [parked] = await list_parked(db)
    assert parked.event_id == ids[2]
    assert parked.attempts == 3
    assert "delivered 3 times" in parked.error
    others = [event_id for n, event_id in enumerate(ids) if n != 2]
    assert await applied_counts(database.owner_dsn) == dict.fromkeys(others, 1)


async def test_consumer_config_bounds_redelivery(db: Database, bus: NatsBus) -> None:
    runner = ProjectionRunner(
        db, bus, RecordingProjection(), max_deliver=4, ack_wait_s=7.0
    )

    info = await bus.js.add_consumer(bus.stream_name, runner.consumer_config())

    assert info.config.ack_wait == 7.0
    assert info.config.max_deliver is not None
    assert info.config.max_deliver > 4


async def _applied(owner_dsn: str, expected: int) -> bool:
    return sum((await applied_counts(owner_dsn)).values()) >= expected


def fails_on(*numbers: int) -> Callable[[RecordedEvent], bool]:
    return lambda event: event.payload.get("n") in numbers


async def test_rebuild_settles_the_parked_events_it_covers(
    database: ClonedDatabase,
    db: Database,
    store: PostgresEventStore,
    bus: NatsBus,
    tenant: str,
) -> None:
    create_applied_table(database.owner_dsn)
    ids = await append_numbered(store, tenant, 5)
    broken = RecordingProjection(fails_on=fails_on(2, 6))
    runner = ProjectionRunner(db, bus, broken, max_attempts=1)
    fixed = RecordingProjection()

    async with relaying(database, store, bus), running(runner):
        await wait_until(lambda: _parked(db, 1))
        await wait_until(lambda: _applied(database.owner_dsn, 4))
        position = await rebuild_projection(
            database.owner_dsn, RUNTIME_ROLE, store, fixed
        )
        ids += await append_numbered(store, tenant, 3, start=5)
        await wait_until(lambda: _parked(db, 2))
        await wait_until(lambda: _applied(database.owner_dsn, 7))

    [waiting] = await list_parked(db)
    assert waiting.event_id == ids[6]
    assert waiting.position > position
    settled = await list_parked(db, include_replayed=True)
    assert [message.event_id for message in settled] == [ids[2], ids[6]]
    results = await replay_parked(db, [fixed])
    assert [result.event_id for result in results] == [ids[6]]
    assert await applied_counts(database.owner_dsn) == dict.fromkeys(ids, 1)


async def _parked(db: Database, expected: int) -> bool:
    return len(await list_parked(db, include_replayed=True)) >= expected
