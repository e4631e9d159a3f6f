"""Repository: snapshots, conflicts and retries against PostgreSQL."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

import psutil
import pytest

from eaf.application import Repository, run_command
from eaf.context import ExecutionContext
from eaf.db.pool import Database
from eaf.eventstore import (
    ConcurrencyError,
    NewEvent,
    PostgresEventStore,
    RecordedEvent,
    Snapshot,
)
from tests.support.counter import Counter


class CountingStore(PostgresEventStore):
    """The real store, noting how many events each stream read returned."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.reads: list[tuple[int, int]] = []  # (after_version, events)

    async def read_stream(
        self, tenant_id: str, stream_id: str, after_version: int = 0
    ) -> AsyncIterator[RecordedEvent]:
        count = 0
        async for event in super().read_stream(tenant_id, stream_id, after_version):
            count += 1
            yield event
        self.reads.append((after_version, count))


async def test_snapshot_load_equals_full_replay(db: Database, tenant: str) -> None:
    store = CountingStore(db)
    repository = Repository(store, Counter, snapshot_every=10)
    counter = Counter("c-1")
    for by in range(1, 26):
        counter.increment(by)
        if by % 7 == 0:
            counter.rename(f"name-{by}")
        await repository.save(tenant, counter)

    snapshot = await store.load_snapshot(tenant, counter.stream_id)
    store.reads.clear()
    from_snapshot = await repository.load(tenant, "c-1")
    replayed = await repository.load_without_snapshot(tenant, "c-1")

    assert snapshot is not None
    assert 0 < snapshot.stream_version < counter.version
    after_snapshot = counter.version - snapshot.stream_version
    assert store.reads == [
        (snapshot.stream_version, after_snapshot),
        (0, counter.version),
    ]
    assert from_snapshot is not None
    assert replayed is not None
    assert vars(from_snapshot) == vars(replayed)


async def test_load_starts_from_snapshot_state(
    store: PostgresEventStore, tenant: str
) -> None:
    """A snapshot saying something no event says shows it was the starting point."""
    repository = Repository(store, Counter, snapshot_every=100)
    counter = Counter("c-1")
    for by in (1, 2, 3):
        counter.increment(by)
        await repository.save(tenant, counter)
    await store.save_snapshot(
        Snapshot(
            tenant_id=tenant,
            stream_id=counter.stream_id,
            stream_type=Counter.stream_type,
            stream_version=2,
            snapshot_version=Counter.snapshot_version,
            state={"total": 1000, "name": "from-snapshot", "changes": 2},
        )
    )

    loaded = await repository.load(tenant, "c-1")

    assert loaded is not None
    assert (loaded.total, loaded.name, loaded.changes) == (1003, "from-snapshot", 3)
    assert loaded.version == 3


async def test_snapshot_of_older_shape_is_ignored(
    store: PostgresEventStore, tenant: str
) -> None:
    repository = Repository(store, Counter, snapshot_every=100)
    counter = Counter("c-1")
    counter.increment(5)
    await repository.save(tenant, counter)
    await store.save_snapshot(
        Snapshot(
            tenant_id=tenant,
            stream_id=counter.stream_id,
            stream_type=Counter.stream_type,
            stream_version=1,
            snapshot_version=Counter.snapshot_version - 1,
            state={"count": 999},  # the old shape: would break from_snapshot
        )
    )

    loaded = await repository.load(tenant, "c-1")

    assert loaded is not None
    assert (loaded.total, loaded.version) == (5, 1)


async def test_context_lands_in_event_metadata(
    store: PostgresEventStore, tenant: str
) -> None:
    repository = Repository(store, Counter)
    context = ExecutionContext(tenant_id=tenant, actor="user-7", correlation_id="c-42")

    async def handle() -> None:
        counter = Counter("c-1")
        counter.increment(1)
        await repository.save(tenant, counter)

    await run_command(context, handle)

    [event] = [event async for event in store.read_stream(tenant, "counter-c-1")]
    assert event.metadata == {"actor": "user-7", "correlation_id": "c-42"}


async def test_command_retries_on_conflict_with_fresh_state(
    store: PostgresEventStore, tenant: str
) -> None:
    repository = Repository(store, Counter)
    first = Counter("c-1")
    first.increment(1)
    await repository.save(tenant, first)

    async def add_one() -> int:
        counter = await repository.load(tenant, "c-1")
        assert counter is not None
        await asyncio.sleep(0.01)  # let the other command load the same version
        counter.increment(1)
        return await repository.save(tenant, counter)

    context = ExecutionContext(tenant_id=tenant)
    versions = await asyncio.gather(
        *(run_command(context, add_one, retries=10) for _ in range(8))
    )

    final = await repository.load(tenant, "c-1")
    assert sorted(versions) == list(range(2, 10))
    assert final is not None
    assert final.total == 9


async def test_command_without_retries_surfaces_conflict(
    store: PostgresEventStore, tenant: str
) -> None:
    repository = Repository(store, Counter)
    stale = Counter("c-1")
    stale.increment(1)
    fresh = Counter("c-1")
    fresh.increment(2)
    await repository.save(tenant, fresh)

    with pytest.raises(ConcurrencyError):
        await repository.save(tenant, stale)


@pytest.mark.slow
async def test_reading_100k_event_stream_keeps_memory_bounded(
    db: Database, tenant: str
) -> None:
    store = PostgresEventStore(db, batch_size=1000)
    payload = {"text": "x" * 200}
    for start in range(0, 100_000, 5000):
        events = [NewEvent("Filled", payload) for _ in range(5000)]
        await store.append(tenant, "big", "test.big", events, start)

    process = psutil.Process()
    rss_before = rss_peak = process.memory_info().rss
    tracemalloc.start()
    count = 0
    async for _ in store.read_stream(tenant, "big"):
        count += 1
        if count % 2000 == 0:
            rss_peak = max(rss_peak, process.memory_info().rss)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = rss_peak - rss_before

    assert count == 100_000
    # All events at once would take well over 100 MB; batches stay small.
    assert peak < 20 * 1024 * 1024
    # RSS also counts what tracemalloc cannot see (driver buffers, C parts);
    # the margin covers allocator slack, not a second copy of the stream.
    assert rss_growth < 60 * 1024 * 1024, rss_growth
