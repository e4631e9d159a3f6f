"""Crash and restart: a killed relay, a restarted NATS, a restarted PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from eaf.bus.nats import NatsBus
from eaf.bus.relay import Relay
from eaf.db import migrate
from eaf.db.pool import Database
from eaf.eventstore import NewEvent, PostgresEventStore
from eaf.projections.runner import ProjectionRunner
from eaf.runtime.embedded import EmbeddedNats, EmbeddedPostgres
from tests.support.projections import (
    RecordingProjection,
    applied_counts,
    create_applied_table,
    wait_until,
)
from tests.support.servers import RUNTIME_PASSWORD, RUNTIME_ROLE, ClonedDatabase

pytestmark = pytest.mark.slow


class Writer:
    """Appends events at a steady pace until told to stop; remembers their ids."""

    def __init__(self, store: PostgresEventStore, pause_s: float = 0.002) -> None:
        self.store = store
        self.pause_s = pause_s
        self.ids: list[str] = []
        self.stop = asyncio.Event()

    async def run(self, limit: int = 1_000_000) -> None:
        version = 0
        while not self.stop.is_set() and len(self.ids) < limit:
            batch = [NewEvent("Counted", {"n": len(self.ids) + n}) for n in range(3)]
            try:
                await self.store.append("tenant-w", "w", "test.counter", batch, version)
            except Exception:  # noqa: BLE001 - server down: try again
                await asyncio.sleep(0.1)
                actual = await self._version()
                # The commit may have landed before the connection broke; this
                # writer is the stream's only one, so the version tells.
                if actual == version + len(batch):
                    self.ids.extend(str(event.event_id) for event in batch)
                version = actual
                continue
            version += len(batch)
            self.ids.extend(str(event.event_id) for event in batch)
            await asyncio.sleep(self.pause_s)

    async def _version(self) -> int:
        while True:
            try:
                return await self.store.stream_version("tenant-w", "w")
            except Exception:  # noqa: BLE001 - still down
                await asyncio.sleep(0.1)

    async def wait_for_more(self, than: int, timeout_s: float = 60) -> None:
        await wait_until(lambda: len(self.ids) > than, timeout_s=timeout_s)


@contextlib.asynccontextmanager
async def running(*workers: Relay | ProjectionRunner) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)


def _relay_process(
    database: ClonedDatabase, bus: NatsBus, data_dir: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EAF_DATABASE_RUNTIME_URL": database.runtime_dsn,
        "EAF_NATS_URL": ",".join(bus.servers),
        "EAF_STREAM_NAME": bus.stream_name,
        "EAF_SUBJECT_PREFIX": bus.subject_prefix,
        "EAF_DATA_DIR": str(data_dir),
        "EAF_LOG_LEVEL": "info",
        "EAF_RELAY_CHECKPOINT_DELAY_S": "0.2",
    }
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "eaf", "serve", "relay"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )


async def test_relay_killed_many_times_loses_and_repeats_nothing(
    database: ClonedDatabase,
    db: Database,
    store: PostgresEventStore,
    bus: NatsBus,
    tmp_path: Path,
) -> None:
    create_applied_table(database.owner_dsn)
    writer = Writer(store, pause_s=0.02)  # keeps the relay busy through all kills
    writing = asyncio.create_task(writer.run(limit=10_000))
    runner = ProjectionRunner(db, bus, RecordingProjection())
    rng = random.Random(7)
    kills = 0
    relay_log = tmp_path / "relay.log"

    async with running(runner):
        while kills < 12:
            relay = _relay_process(database, bus, tmp_path, relay_log)
            activated = functools.partial(_activated, relay_log, kills + 1)
            await wait_until(activated, timeout_s=120)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            relay.send_signal(signal.SIGKILL)
            await asyncio.to_thread(relay.wait)
            kills += 1
        writer.stop.set()
        await writing
        relay = _relay_process(database, bus, tmp_path, relay_log)
        try:
            expected = len(writer.ids)
            await wait_until(
                lambda: _applied_total(database.owner_dsn, expected), timeout_s=120
            )
        finally:
            relay.terminate()
            await asyncio.to_thread(relay.wait, 15)

    counts = await applied_counts(database.owner_dsn)
    assert counts == dict.fromkeys(writer.ids, 1)
    # The kills did land between publish and checkpoint, repeatedly.
    resumes = relay_log.read_text().count("relay.checkpoint_behind_stream")
    assert resumes >= 6, relay_log.read_text()[-3000:]


def _activated(relay_log: Path, times: int) -> bool:
    return _active_count(relay_log) >= times


def _active_count(relay_log: Path) -> int:
    if not relay_log.exists():
        return 0
    return relay_log.read_text().count('"relay.active"')


def _reached(relay: Relay, position: int) -> bool:
    return relay.position >= position


async def _applied_total(owner_dsn: str, expected: int) -> bool:
    return sum((await applied_counts(owner_dsn)).values()) >= expected


@pytest.fixture
def private_nats() -> Iterator[EmbeddedNats]:
    base = Path(tempfile.mkdtemp(prefix="eaf-test-nats-"))
    nats = EmbeddedNats(base)
    nats.start()
    yield nats
    nats.stop()
    shutil.rmtree(base, ignore_errors=True)


async def test_relay_and_consumer_survive_nats_restart(
    database: ClonedDatabase,
    db: Database,
    store: PostgresEventStore,
    private_nats: EmbeddedNats,
) -> None:
    create_applied_table(database.owner_dsn)
    bus = NatsBus(private_nats.url, stream_name="RESTART", subject_prefix="restart")
    await bus.connect()
    await bus.ensure_stream()
    writer = Writer(store)
    writing = asyncio.create_task(writer.run())
    relay = Relay(database.runtime_dsn, store, bus)
    runner = ProjectionRunner(db, bus, RecordingProjection())
    try:
        async with running(relay, runner):
            for _ in range(2):
                await writer.wait_for_more(len(writer.ids) + 300)
                await asyncio.to_thread(private_nats.restart)
                # Under load: events keep coming and the relay publishes
                # past where it stood when NATS went away.
                written, published = len(writer.ids), relay.position
                await writer.wait_for_more(written + 30)
                head = await store.head_position()
                await wait_until(functools.partial(_reached, relay, head), 60)
                assert relay.position > published
            writer.stop.set()
            await writing
            expected = len(writer.ids)
            await wait_until(
                lambda: _applied_total(database.owner_dsn, expected), timeout_s=120
            )
    finally:
        writer.stop.set()
        await bus.close()

    assert await applied_counts(database.owner_dsn) == dict.fromkeys(writer.ids, 1)


@pytest.fixture
def private_postgres() -> Iterator[tuple[EmbeddedPostgres, str, str]]:
    base = Path(tempfile.mkdtemp(prefix="eaf-test-pg-"))
    postgres = EmbeddedPostgres(base)
    postgres.start()
    owner_dsn = postgres.admin_url
    migrate.upgrade(owner_dsn, RUNTIME_ROLE, RUNTIME_PASSWORD)
    runtime_dsn = migrate.runtime_dsn(owner_dsn, RUNTIME_ROLE, RUNTIME_PASSWORD)
    yield postgres, owner_dsn, runtime_dsn
    postgres.stop()
    shutil.rmtree(base, ignore_errors=True)


async def test_relay_and_consumer_survive_postgres_restart(
    private_postgres: tuple[EmbeddedPostgres, str, str], bus: NatsBus
) -> None:
    postgres, owner_dsn, runtime_dsn = private_postgres
    create_applied_table(owner_dsn)
    db = Database(runtime_dsn, min_size=1, max_size=5)
    await db.open()
    store = PostgresEventStore(db)
    writer = Writer(store)
    writing = asyncio.create_task(writer.run())
    relay = Relay(runtime_dsn, store, bus)
    runner = ProjectionRunner(db, bus, RecordingProjection())
    try:
        async with running(relay, runner):
            for _ in range(2):
                await writer.wait_for_more(len(writer.ids) + 300)
                await asyncio.to_thread(postgres.restart)
                # Appends resume on the restarted server, and the relay and
                # projection carry them through.
                written = len(writer.ids)
                await writer.wait_for_more(written + 30)
                caught_up = functools.partial(_applied_total, owner_dsn, written + 30)
                await wait_until(caught_up, timeout_s=60)
            writer.stop.set()
            await writing
            expected = len(writer.ids)
            await wait_until(lambda: _applied_total(owner_dsn, expected), timeout_s=120)
    finally:
        writer.stop.set()
        await db.close()

    assert await applied_counts(owner_dsn) == dict.fromkeys(writer.ids, 1)
