"""The relay outlives NATS outages and a lost stream, and never meets a bad name."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from eaf.bus.nats import NatsBus
from eaf.bus.relay import Relay
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore
from eaf.eventstore.names import InvalidNameError
from eaf.runtime.embedded import EmbeddedNats
from tests.support.projections import wait_until
from tests.support.servers import ClonedDatabase


class Writer:
    """Appends batches of events to one stream until it reaches a limit."""

    def __init__(self, store: PostgresEventStore, tenant_id: str) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.ids: list[str] = []

    async def run(self, limit: int, pause_s: float = 0.01) -> None:
        while len(self.ids) < limit:
            batch = [NewEvent("Counted", {"n": len(self.ids) + n}) for n in range(3)]
            await self.store.append(
                self.tenant_id, "w", "test.counter", batch, len(self.ids)
            )
            self.ids.extend(str(event.event_id) for event in batch)
            await asyncio.sleep(pause_s)


@contextlib.asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def published_ids(bus: NatsBus) -> list[str]:
    """The event ids the stream holds, in stream order."""
    info = await bus.js.stream_info(bus.stream_name)
    ids = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if seq == 0:
            continue
        msg = await bus.js.get_msg(bus.stream_name, seq=seq)
        ids.append((msg.headers or {})["Nats-Msg-Id"])
    return ids


async def holds_all(bus: NatsBus, count: int) -> bool:
    with contextlib.suppress(Exception):
        info = await bus.js.stream_info(bus.stream_name)
        return int(info.state.messages) >= count
    return False


async def append_counted(
    store: PostgresEventStore, tenant_id: str, count: int
) -> list[str]:
    events = [NewEvent("Counted", {"n": n}) for n in range(count)]
    await store.append(tenant_id, "c", "test.counter", events, NO_STREAM)
    return [str(event.event_id) for event in events]


@pytest.fixture
def private_nats() -> Iterator[EmbeddedNats]:
    base = Path(tempfile.mkdtemp(prefix="eaf-test-nats-"))
    nats = EmbeddedNats(base)
    nats.start()
    yield nats
    nats.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def private_bus(private_nats: EmbeddedNats) -> AsyncIterator[NatsBus]:
    bus = NatsBus(private_nats.url, stream_name="RESILIENT", subject_prefix="res")
    await bus.connect()
    await bus.ensure_stream()
    yield bus
    await bus.close()


def start_nats_without_jetstream(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """A plain NATS server on ``port``: clients connect, JetStream never answers."""
    binary = Path(sys.executable).parent / "nats-server"
    argv = [str(binary), "--addr", "127.0.0.1", "--port", str(port)]
    with log_path.open("ab") as log_file:
        server = subprocess.Popen(argv, stdout=log_file, stderr=log_file)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=1) as conn,
        ):
            if conn.recv(5) == b"INFO ":
                return server
        time.sleep(0.1)
    server.kill()
    raise AssertionError("the plain NATS server did not start")


def jetstream_missed(relay: Relay) -> bool:
    """Whether the relay's last failure was JetStream not answering at all."""
    error = relay.last_error or ""
    return "ServiceUnavailable" in error or "NoResponders" in error


def stop_process(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


async def test_relay_recreates_a_deleted_stream(
    database: ClonedDatabase,
    store: PostgresEventStore,
    bus: NatsBus,
    tenant: str,
) -> None:
    ids = await append_counted(store, tenant, 20)
    await bus.js.delete_stream(bus.stream_name)
    relay = Relay(database.runtime_dsn, store, bus)

    async with running(relay) as task:
        await wait_until(lambda: holds_all(bus, 20))
        assert not task.done()

    assert await published_ids(bus) == ids


@pytest.mark.slow
async def test_relay_started_while_nats_is_down_recovers(
    database: ClonedDatabase,
    store: PostgresEventStore,
    private_nats: EmbeddedNats,
    private_bus: NatsBus,
    tenant: str,
) -> None:
    ids = await append_counted(store, tenant, 20)
    await asyncio.to_thread(private_nats.stop)
    relay = Relay(database.runtime_dsn, store, private_bus)

    async with running(relay) as task:
        await wait_until(lambda: relay.last_error is not None, timeout_s=60)
        await asyncio.to_thread(private_nats.start)
        await wait_until(lambda: holds_all(private_bus, 20), timeout_s=120)
        assert not task.done()

    assert await published_ids(private_bus) == ids


@pytest.mark.slow
async def test_relay_survives_jetstream_outage_during_writes(
    database: ClonedDatabase,
    store: PostgresEventStore,
    private_nats: EmbeddedNats,
    private_bus: NatsBus,
    tenant: str,
    tmp_path: Path,
) -> None:
    """No responders, then a server restart: every event lands once, in order."""
    writer = Writer(store, tenant)
    writing = asyncio.create_task(writer.run(limit=600))
    relay = Relay(database.runtime_dsn, store, private_bus)

    async with running(relay) as task:
        await wait_until(lambda: relay.position > 0, timeout_s=60)
        port = private_nats.port
        await asyncio.to_thread(private_nats.stop)
        plain = await asyncio.to_thread(
            start_nats_without_jetstream, port, tmp_path / "plain.log"
        )
        try:
            await wait_until(lambda: jetstream_missed(relay), timeout_s=120)
        finally:
            await asyncio.to_thread(stop_process, plain)
        await asyncio.to_thread(private_nats.start)
        await writing
        expected = len(writer.ids)
        await wait_until(lambda: holds_all(private_bus, expected), timeout_s=120)
        assert not task.done()

    assert await published_ids(private_bus) == writer.ids


@pytest.mark.parametrize(
    ("tenant_id", "stream_type", "event_type"),
    [
        ("acme.corp", "test.counter", "Counted"),
        ("acme", "test counter", "Counted"),
        ("acme", "test.counter", "Counted.v2"),
        ("acme", "test.counter", "Counted\n"),
    ],
)
async def test_refused_append_stores_nothing_and_relay_goes_on(
    database: ClonedDatabase,
    store: PostgresEventStore,
    bus: NatsBus,
    tenant: str,
    tenant_id: str,
    stream_type: str,
    event_type: str,
) -> None:
    before = await append_counted(store, tenant, 3)
    bad = [NewEvent("Counted", {}), NewEvent(event_type, {})]

    with pytest.raises(InvalidNameError):
        await store.append(tenant_id, "bad", stream_type, bad, NO_STREAM)
    after = [NewEvent("Counted", {"n": 3})]
    await store.append(tenant, "c", "test.counter", after, 3)

    assert await store.head_position() == 4
    relay = Relay(database.runtime_dsn, store, bus)
    async with running(relay):
        await wait_until(lambda: holds_all(bus, 4))
    assert await published_ids(bus) == [*before, str(after[0].event_id)]
