"""The event store against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import uuid

import psycopg
import pytest

from eaf.bus.nats import NatsBus
from eaf.bus.relay import Relay
from eaf.db.pool import Database
from eaf.eventstore import (
    NO_STREAM,
    ConcurrencyError,
    NewEvent,
    PostgresEventStore,
    RecordedEvent,
    UpcasterChain,
)
from tests.conftest import new_tenant
from tests.support.projections import wait_until
from tests.support.servers import ClonedDatabase


def make_events(count: int, kind: str = "ThingHappened") -> list[NewEvent]:
    return [NewEvent(kind, {"n": n}) for n in range(count)]


async def test_append_assigns_consecutive_stream_versions(
    store: PostgresEventStore, tenant: str
) -> None:
    recorded = await store.append(
        tenant, "thing-1", "test.thing", make_events(3), NO_STREAM
    )

    assert [event.stream_version for event in recorded] == [1, 2, 3]
    read = [event async for event in store.read_stream(tenant, "thing-1")]
    assert [event.payload["n"] for event in read] == [0, 1, 2]
    assert read == recorded


async def test_append_rejects_stale_expected_version(
    store: PostgresEventStore, tenant: str
) -> None:
    await store.append(tenant, "thing-1", "test.thing", make_events(2), NO_STREAM)

    with pytest.raises(ConcurrencyError) as caught:
        await store.append(tenant, "thing-1", "test.thing", make_events(1), 1)

    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
    assert await store.stream_version(tenant, "thing-1") == 2


async def test_append_of_several_events_is_atomic(
    store: PostgresEventStore, tenant: str
) -> None:
    duplicate_id = uuid.uuid4()
    await store.append(
        tenant, "other", "test.thing", [NewEvent("A", {}, event_id=duplicate_id)], 0
    )
    batch = [NewEvent("B", {}), NewEvent("C", {}, event_id=duplicate_id)]

    with pytest.raises(psycopg.errors.UniqueViolation):
        await store.append(tenant, "thing-1", "test.thing", batch, NO_STREAM)

    assert await store.stream_version(tenant, "thing-1") == 0


async def test_two_writers_at_same_version_one_wins(
    store: PostgresEventStore, tenant: str
) -> None:
    for round_number in range(20):
        stream = f"race-{round_number}"
        await store.append(tenant, stream, "test.thing", make_events(1), NO_STREAM)

        results = await asyncio.gather(
            store.append(tenant, stream, "test.thing", make_events(1, "Left"), 1),
            store.append(tenant, stream, "test.thing", make_events(1, "Right"), 1),
            return_exceptions=True,
        )

        winners = [result for result in results if isinstance(result, list)]
        losers = [result for result in results if isinstance(result, ConcurrencyError)]
        assert (len(winners), len(losers)) == (1, 1)
        assert await store.stream_version(tenant, stream) == 2


async def test_global_order_never_skips_under_concurrent_writers(
    db: Database, store: PostgresEventStore
) -> None:
    """16 writers x 500 appends, some holding their commit back at random."""
    writers, appends = 16, 500
    expected_ids: set[uuid.UUID] = set()
    done = asyncio.Event()

    async def write(writer: int) -> None:
        tenant_id = new_tenant()
        rng = random.Random(writer)
        for n in range(appends):
            event = NewEvent("Counted", {"writer": writer, "n": n})
            expected_ids.add(event.event_id)
            async with db.transaction(tenant_id) as conn:
                await store.append(
                    tenant_id, f"w-{writer}", "test.counter", [event], n, conn=conn
                )
                if rng.random() < 0.05:
                    await asyncio.sleep(rng.uniform(0, 0.004))

    seen: list[RecordedEvent] = []

    async def read() -> None:
        position = 0
        while True:
            # An empty read ends the loop only when every writer had committed
            # before the read began; a read started earlier may miss the last.
            writers_done = done.is_set()
            batch = await store.read_all(position, 200)
            seen.extend(batch)
            if batch:
                position = batch[-1].position
            elif writers_done:
                return
            else:
                await asyncio.sleep(0.001)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(writer) for writer in range(writers)))
    done.set()
    await reader

    positions = [event.position for event in seen]
    assert positions == sorted(set(positions))
    assert [event.event_id for event in seen] == list(
        dict.fromkeys(event.event_id for event in seen)
    )
    assert {event.event_id for event in seen} == expected_ids


class RollBackError(Exception):
    pass


class DoomedAppend:
    """An append inside a transaction held open until released, then rolled back."""

    def __init__(self, db: Database, store: PostgresEventStore, tenant: str) -> None:
        self.db, self.store, self.tenant = db, store, tenant
        self.appended = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self) -> None:
        try:
            async with self.db.transaction(self.tenant) as conn:
                await self.store.append(
                    self.tenant, "doomed", "test.thing", make_events(5), 0, conn=conn
                )
                self.appended.set()
                await self.release.wait()
                raise RollBackError
        except RollBackError:
            return


async def test_rolled_back_append_holds_no_reader(
    db: Database, store: PostgresEventStore, tenant: str
) -> None:
    await store.append(tenant, "before", "test.thing", make_events(1), NO_STREAM)
    doomed = DoomedAppend(db, store, tenant)
    stuck = asyncio.create_task(doomed.run())
    await asyncio.wait_for(doomed.appended.wait(), timeout=10)

    read = await asyncio.wait_for(store.read_all(0, 100), timeout=2)

    assert [event.stream_id for event in read] == ["before"]
    doomed.release.set()
    await stuck
    await store.append(tenant, "after", "test.thing", make_events(1), NO_STREAM)
    read = await asyncio.wait_for(store.read_all(0, 100), timeout=2)
    assert [event.stream_id for event in read] == ["before", "after"]


async def test_relay_passes_open_and_rolled_back_appends(
    database: ClonedDatabase,
    db: Database,
    store: PostgresEventStore,
    bus: NatsBus,
    tenant: str,
) -> None:
    """The relay publishes around an append held open, then past its gap."""
    [before] = await store.append(
        tenant, "before", "test.thing", make_events(1), NO_STREAM
    )
    doomed = DoomedAppend(db, store, tenant)
    stuck = asyncio.create_task(doomed.run())
    await asyncio.wait_for(doomed.appended.wait(), timeout=10)
    relay = Relay(database.runtime_dsn, store, bus)
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    try:
        # Started while the doomed append holds the append lock.
        await wait_until(lambda: relay.position >= before.position, timeout_s=5)
        doomed.release.set()
        await stuck
        [after] = await store.append(
            tenant, "after", "test.thing", make_events(1), NO_STREAM
        )
        await wait_until(lambda: relay.position >= after.position, timeout_s=5)
    finally:
        doomed.release.set()
        stop.set()
        await asyncio.wait_for(relaying, timeout=15)

    info = await bus.js.stream_info(bus.stream_name)
    published = [
        (await bus.js.get_msg(bus.stream_name, seq=seq)).headers or {}
        for seq in range(1, info.state.last_seq + 1)
    ]
    assert [headers["Nats-Msg-Id"] for headers in published] == [
        str(before.event_id),
        str(after.event_id),
    ]
    assert after.position > before.position + 1  # the rollback left a gap


async def test_upcaster_converts_old_schema_on_read(db: Database, tenant: str) -> None:
    chain = UpcasterChain()

    @chain.register("Renamed", 1)
    def split_name(payload: dict[str, object]) -> dict[str, object]:
        first, last = str(payload.pop("name")).split(" ", 1)
        return {**payload, "first": first, "last": last}

    raw_store = PostgresEventStore(db)
    await raw_store.append(
        tenant, "p-1", "test.person", [NewEvent("Renamed", {"name": "Ada Lovelace"})], 0
    )

    upcasting_store = PostgresEventStore(db, upcasters=chain)
    [event] = [event async for event in upcasting_store.read_stream(tenant, "p-1")]

    assert event.payload == {"first": "Ada", "last": "Lovelace"}
    assert event.schema_version == 2
    [stored] = [event async for event in raw_store.read_stream(tenant, "p-1")]
    assert stored.payload == {"name": "Ada Lovelace"}
