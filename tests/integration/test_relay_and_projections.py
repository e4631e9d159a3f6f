"""Relay to JetStream and projections fed from it, on real servers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from eaf.bus.nats import NatsBus
from eaf.bus.relay import Relay
from eaf.db.pool import Connection, Database
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore, RecordedEvent
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
    consumer_caught_up,
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
        headers = {str(key): str(value) for key, value in (msg.headers or {}).items()}
        messages.append((str(msg.subject), headers))
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
        await wait_until(lambda: relay.position >= 30)
        # A republish beyond the duplicate window: new message ids, same events.
        events = await store.read_all(0, 10)
        for event in events:
            await bus.js.publish(
                f"{bus.subject_prefix}.{event.tenant_id}.test.Counted",
                (await _envelope(event)),
                headers={"Eaf-Position": str(event.position)},
            )
        # Every message, the ten copies included, handled and acked.
        await wait_until(lambda: consumer_caught_up(bus, runner.durable_name))
        stream = await bus.js.stream_info(bus.stream_name)

    assert stream.state.last_seq == len(ids) + 10
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


class GatedProjection(RecordingProjection):
    """Pauses its first apply until released, to hold a rebuild mid-way."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        if not self.reached.is_set():
            self.reached.set()
            await self.release.wait()
        await super().apply(conn, event)


async def _corrupt_read_model(owner_dsn: str, ids: list[str]) -> str:
    """Drop one row, double another and add a stray; return the stray's id."""
    stray = str(uuid.uuid4())
    async with await psycopg.AsyncConnection.connect(owner_dsn) as conn:
        await conn.execute("DELETE FROM test_applied WHERE event_id = %s", (ids[5],))
        await conn.execute(
            "INSERT INTO test_applied SELECT * FROM test_applied WHERE event_id = %s",
            (ids[6],),
        )
        await conn.execute(
            "INSERT INTO test_applied VALUES ('tenant-0', %s, 999999)", (stray,)
        )
    return stray


async def test_rebuild_restores_damaged_read_model_while_serving(
    database: ClonedDatabase, db: Database, store: PostgresEventStore, bus: NatsBus
) -> None:
    create_applied_table(database.owner_dsn)
    ids = await append_many(store, 40)
    relay = Relay(database.runtime_dsn, store, bus)
    runner = ProjectionRunner(db, bus, RecordingProjection())
    rebuilt = GatedProjection()
    seen: list[tuple[int, int]] = []

    async with running(relay, runner):
        await wait_until(lambda: relay.position >= 40)
        await wait_until(lambda: consumer_caught_up(bus, runner.durable_name))
        stray = await _corrupt_read_model(database.owner_dsn, ids)
        damaged = await applied_counts(database.owner_dsn)
        rebuilding = asyncio.create_task(
            rebuild_projection(
                database.owner_dsn,
                RUNTIME_ROLE,
                store,
                rebuilt,
                progress=lambda done, total: seen.append((done, total)),
                batch_size=7,
            )
        )
        await asyncio.wait_for(rebuilt.reached.wait(), timeout=30)
        # Mid-rebuild the live table still answers, damage and all, and the
        # live consumer still applies new events to it.
        during = await asyncio.wait_for(applied_counts(database.owner_dsn), 5)
        live_more = await append_many(store, 3, start=40)
        await wait_until(lambda: _has_all(database.owner_dsn, live_more), timeout_s=20)
        assert not rebuilding.done()
        rebuilt.release.set()
        position = await asyncio.wait_for(rebuilding, timeout=60)

        more = await append_many(store, 5, start=43)
        head = await store.head_position()
        await wait_until(lambda: relay.position >= head)
        await wait_until(lambda: consumer_caught_up(bus, runner.durable_name))

    assert during == damaged
    assert (ids[5] not in during, during[ids[6]], during[stray]) == (True, 2, 1)
    assert position >= 43
    assert seen[-1][0] == seen[-1][1]
    everything = ids + live_more + more
    assert await applied_counts(database.owner_dsn) == dict.fromkeys(everything, 1)
    with psycopg.connect(database.owner_dsn) as conn:
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'test_applied'"
        ).fetchall()
    assert indexes == [("test_applied_event_idx",)]


async def _has_all(owner_dsn: str, ids: list[str]) -> bool:
    return set(ids) <= set(await applied_counts(owner_dsn))


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
