"""Relay to JetStream and projections fed from it, on real servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from eaf.bus.nats import NatsBus
from eaf.bus.relay import Relay
from eaf.db.pool import Database
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from eaf.projections.operations import (
    list_parked,
    projection_status,
    rebuild_projection,
    replay_parked,
)
from eaf.projections.runner import ProjectionRunner
from tests.conftest import new_tenant
from tests.support.projections import (
    RecordingProjection,
    applied_counts,
    create_applied_table,
    wait_until,
)
from tests.support.servers import RUNTIME_ROLE, ClonedDatabase


@contextlib.asynccontextmanager
async def running(*workers: Relay | ProjectionRunner) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)


async def append_many(
    store: PostgresEventStore, count: int, tenants: int = 3, start: int = 0
) -> list[str]:
    ids = []
    for n in range(start, start + count):
        tenant_id = f"tenant-{n % tenants}"
        event = NewEvent("Counted", {"n": n})
        ids.append(str(event.event_id))
        await store.append(
            tenant_id, f"counter-{n}", "test.counter", [event], NO_STREAM
        )
    return ids


async def stream_messages(bus: NatsBus) -> list[tuple[str, dict[str, str]]]:
    info = await bus.js.stream_info(bus.stream_name)
    messages = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(bus.stream_name, seq=seq)
        messages.append((msg.subject, dict(msg.headers or {})))
    return messages


async def test_relay_publishes_each_event_once_in_order(
    database: ClonedDatabase, store: PostgresEventStore, bus: NatsBus
) -> None:
    ids = await append_many(store, 50)
    relay = Relay(database.runtime_dsn, store, bus)

    async with running(relay):
        await wait_until(lambda: relay.position >= 50 or None)

    messages = await stream_messages(bus)
    assert [headers["Nats-Msg-Id"] for _, headers in messages] == ids
    positions = [int(headers["Eaf-Position"]) for _, headers in messages]
    assert positions == sorted(positions)
    assert messages[0][0] == f"{bus.subject_prefix}.tenant-0.test.Counted"


async def test_only_one_relay_is_active_per_database(
    database: ClonedDatabase, store: PostgresEventStore, bus: NatsBus
) -> None:
    first = Relay(database.runtime_dsn, store, bus)
    second = Relay(database.runtime_dsn, store, bus)
    stop_first = asyncio.Event()
    first_task = asyncio.create_task(first.run(stop_first))
    await wait_until(lambda: first.is_active)

    async with running(second):
        await asyncio.sleep(1.5)
        assert (first.is_active, second.is_active) == (True, False)

        stop_first.set()
        await first_task
        await wait_until(lambda: second.is_active, timeout_s=10)
        ids = await append_many(store, 5)
        head = await store.head_position()
        await wait_until(lambda: second.position >= head)

    published = [headers["Nats-Msg-Id"] for _, headers in await stream_messages(bus)]
    assert published == ids


async def test_projection_applies_republished_events_once(
    database: ClonedDatabase, db: Database, store: PostgresEventStore, bus: NatsBus
) -> None:
    create_applied_table(database.owner_dsn)
    ids = await append_many(store, 30)
    relay = Relay(database.runtime_dsn, store, bus)
    runner = ProjectionRunner(db, bus, RecordingProjection())

    async with running(relay, runner):
        await wait_until(lambda: relay.position > 0 and relay.position >= 30)
        # A republish beyond the duplicate window: new message ids, same events.
        events = await store.read_all(0, 10)
        for event in events:
            await bus.js.publish(
                f"{bus.subject_prefix}.{event.tenant_id}.test.Counted",
                (await _envelope(event)),
                headers={"Eaf-Position": str(event.position)},
            )
        await wait_until(lambda: _count_is(database.owner_dsn, len(ids)), timeout_s=20)
        await asyncio.sleep(0.5)

    counts = await applied_counts(database.owner_dsn)
    assert counts == dict.fromkeys(ids, 1)


async def _envelope(event: object) -> bytes:
    from eaf.bus.nats import encode_event

    return encode_event(event)  # type: ignore[arg-type]


async def _count_is(owner_dsn: str, expected: int) -> bool:
    return sum((await applied_counts(owner_dsn)).values()) >= expected


async def test_poison_event_is_parked_and_later_ones_applied(
    database: ClonedDatabase, db: Database, store: PostgresEventStore, bus: NatsBus
) -> None:
    create_applied_table(database.owner_dsn)
    ids = await append_many(store, 10)
    poison = ids[3]
    broken = RecordingProjection(fails_on=lambda event: str(event.event_id) == poison)
    relay = Relay(database.runtime_dsn, store, bus)
    runner = ProjectionRunner(db, bus, broken, max_attempts=3, retry_delay_s=0.01)

    async with running(relay, runner):
        await wait_until(lambda: _count_is(database.owner_dsn, 9))
        parked = await list_parked(db)

    assert [item.event_id for item in parked] == [poison]
    assert parked[0].attempts == 3
    assert "cannot handle event" in parked[0].error
    assert set(await applied_counts(database.owner_dsn)) == set(ids) - {poison}

    fixed = RecordingProjection()
    results = await replay_parked(db, [fixed])
    again = await replay_parked(db, [fixed])

    assert [result.succeeded for result in results] == [True]
    assert again == []
    assert await applied_counts(database.owner_dsn) == dict.fromkeys(ids, 1)
    [status] = await projection_status(db, store, [fixed])
    assert (status.parked, status.lag) == (0, 0)


async def test_failed_replay_keeps_event_parked(
    database: ClonedDatabase, db: Database, store: PostgresEventStore, bus: NatsBus
) -> None:
    create_applied_table(database.owner_dsn)
    [poison] = await append_many(store, 1)
    always_broken = RecordingProjection(fails_on=lambda event: True)
    relay = Relay(database.runtime_dsn, store, bus)
    runner = ProjectionRunner(
        db, bus, always_broken, max_attempts=2, retry_delay_s=0.01
    )
    async with running(relay, runner):
        await wait_until(lambda: _parked_count(db, 1))

    [result] = await replay_parked(db, [always_broken])

    assert not result.succeeded
    [still_parked] = await list_parked(db)
    assert (still_parked.event_id, still_parked.attempts) == (poison, 3)


async def _parked_count(db: Database, expected: int) -> bool:
    return len(await list_parked(db)) == expected


async def test_rebuild_replays_store_into_fresh_tables(
    database: ClonedDatabase, db: Database, store: PostgresEventStore, bus: NatsBus
) -> None:
    create_applied_table(database.owner_dsn)
    ids = await append_many(store, 40)
    projection = RecordingProjection()
    relay = Relay(database.runtime_dsn, store, bus)
    runner = ProjectionRunner(db, bus, projection)
    seen: list[tuple[int, int]] = []

    async with running(relay, runner):
        await wait_until(lambda: _count_is(database.owner_dsn, 40))
        position = await rebuild_projection(
            database.owner_dsn,
            RUNTIME_ROLE,
            store,
            projection,
            progress=lambda done, total: seen.append((done, total)),
            batch_size=7,
        )
        more = await append_many(store, 5, start=40)
        await wait_until(lambda: _count_is(database.owner_dsn, 45))
        await asyncio.sleep(0.3)

    assert position >= 40
    assert seen[-1][0] == seen[-1][1]
    assert await applied_counts(database.owner_dsn) == dict.fromkeys(ids + more, 1)
    import psycopg

    with psycopg.connect(database.owner_dsn) as conn:
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'test_applied'"
        ).fetchall()
    assert indexes == [("test_applied_event_idx",)]


@pytest.mark.slow
async def test_relay_and_reader_see_every_event_under_16_writers(
    database: ClonedDatabase, db: Database, store: PostgresEventStore, bus: NatsBus
) -> None:
    """16 writers x 500 appends, commits held back at random, relay running."""
    import random

    writers, appends = 16, 500
    expected: list[str] = []

    async def write(writer: int) -> None:
        tenant_id = new_tenant()
        rng = random.Random(writer)
        for n in range(appends):
            event = NewEvent("Counted", {"writer": writer, "n": n})
            expected.append(str(event.event_id))
            async with db.transaction(tenant_id) as conn:
                await store.append(
                    tenant_id, "w", "test.counter", [event], n, conn=conn
                )
                if rng.random() < 0.05:
                    await asyncio.sleep(rng.uniform(0, 0.004))

    relay = Relay(database.runtime_dsn, store, bus)
    async with running(relay):
        await asyncio.gather(*(write(writer) for writer in range(writers)))
        head = await store.head_position()
        await wait_until(lambda: relay.position >= head, timeout_s=60)

    published = [headers["Nats-Msg-Id"] for _, headers in await stream_messages(bus)]
    assert len(published) == len(set(published)) == writers * appends
    assert set(published) == set(expected)
