"""Event store, relay and projection figures beside plain psycopg and nats-py.

Run ``python bench/bench_foundation.py [--quick] [--json PATH] [--external]``.
The run starts its own PostgreSQL and NATS JetStream on 127.0.0.1 (or, with
``--external``, uses ``EAF_TEST_DATABASE_URL`` and ``EAF_TEST_NATS_URL``),
migrates a template database and clones it once per section. Every EAF figure
sits beside a baseline that does the same work with the drivers alone, on the
same servers in the same run; bench/README.md says what each row measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import nats
import psycopg
from _servers import (
    RUNTIME_ROLE,
    BenchDatabase,
    Servers,
    open_connection,
    open_jetstream,
    open_pool,
    run_owner_sql,
    running_servers,
    wait_until,
)
from nats.js import JetStreamContext
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.table import Table

from eaf.application import Aggregate, DomainEvent, Repository
from eaf.bus.nats import NatsBus, encode_event, subject_for
from eaf.bus.relay import Relay
from eaf.db.pool import Connection
from eaf.eventstore import NO_STREAM, NewEvent, PostgresEventStore, RecordedEvent
from eaf.logs import configure_logging
from eaf.projections.base import Projection
from eaf.projections.runner import ProjectionRunner

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "foundation.json"
SECTIONS = ("append", "load", "relay", "latency")

APPEND_CASES = ((1, 1), (8, 1), (1, 100), (8, 100))  # (writers, events per txn)
APPEND_CAP = 100_000  # events per writer and round, whatever the time allows
STREAM_LENGTH = 1_000
SNAPSHOT_EVERY = 100
RELAY_BATCH = 500  # the relay's default batch size, also used by the baseline
TENANTS = 10
LATENCY_GAP_S = (0.01, 0.03)  # pause between probes: about 50 events/s

METADATA = {"correlation_id": str(uuid.uuid4()), "actor": "bench"}


@dataclass(frozen=True)
class Plan:
    """How much work each section does."""

    append_seconds: float  # per case, implementation and round
    append_rounds: int
    load_repeats: int
    relay_events: int  # in total, spread evenly over the rounds
    relay_rounds: int
    latency_events: int


FULL = Plan(1.5, 3, 30, 20_000, 2, 200)
QUICK = Plan(0.25, 1, 5, 2_000, 1, 30)


@dataclass(frozen=True)
class Figure:
    """One measured quantity, for EAF and for its baseline."""

    section: str
    name: str
    unit: str
    eaf: float
    baseline: float
    higher_is_better: bool

    @property
    def times_slower(self) -> float:
        """How many times EAF is behind the baseline (below 1: ahead)."""
        if self.higher_is_better:
            return self.baseline / self.eaf
        return self.eaf / self.baseline

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "unit": self.unit,
            "eaf": round(self.eaf, 3),
            "baseline": round(self.baseline, 3),
            "higher_is_better": self.higher_is_better,
            "eaf_over_baseline": round(self.eaf / self.baseline, 4),
            "times_slower": round(self.times_slower, 4),
        }


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def event_payload(n: int) -> dict[str, Any]:
    return {"amount": 1, "n": n, "note": "benchmark event"}


# --- 1. append throughput ----------------------------------------------------

# Same columns, defaults, keys and indexes as `events`; LIKE copies no policies,
# triggers or grants, so the baseline pays for none of them.
BASELINE_TABLE = "CREATE TABLE bench_events (LIKE events INCLUDING ALL)"
BASELINE_INSERT = (
    "INSERT INTO bench_events (event_id, tenant_id, stream_id, stream_type, "
    "stream_version, event_type, schema_version, payload, metadata) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)

Writer = Callable[[int, float], Awaitable[int]]


def eaf_writer(store: PostgresEventStore, batch: int, label: str) -> Writer:
    async def write(index: int, deadline: float) -> int:
        tenant_id, stream_id = f"tenant-{index}", f"{label}-{index}"
        written = 0
        while written < APPEND_CAP and time.perf_counter() < deadline:
            events = [
                NewEvent("Incremented", event_payload(n), metadata=METADATA)
                for n in range(written + 1, written + batch + 1)
            ]
            await store.append(tenant_id, stream_id, "bench.counter", events, written)
            written += batch
        return written

    return write


def baseline_writer(
    conns: list[psycopg.AsyncConnection[Any]], batch: int, label: str
) -> Writer:
    async def write(index: int, deadline: float) -> int:
        conn = conns[index]
        tenant_id, stream_id = f"tenant-{index}", f"{label}-{index}"
        written = 0
        while written < APPEND_CAP and time.perf_counter() < deadline:
            rows = [
                (uuid.uuid4(), tenant_id, stream_id, "bench.counter", n)
                + ("Incremented", 1, Jsonb(event_payload(n)), Jsonb(METADATA))
                for n in range(written + 1, written + batch + 1)
            ]
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(BASELINE_INSERT, rows)
            written += batch
        return written

    return write


async def append_rate(write: Writer, writers: int, seconds: float) -> float:
    started = time.perf_counter()
    deadline = started + seconds
    written = await asyncio.gather(*(write(i, deadline) for i in range(writers)))
    return sum(written) / (time.perf_counter() - started)


async def append_case(
    store: PostgresEventStore,
    conns: list[psycopg.AsyncConnection[Any]],
    case: tuple[int, int],
    plan: Plan,
) -> Figure:
    writers, batch = case
    seconds = plan.append_seconds
    eaf_rates, raw_rates = [], []
    for round_no in range(plan.append_rounds):
        label = f"w{writers}-b{batch}-r{round_no}"
        eaf = eaf_writer(store, batch, label)
        raw = baseline_writer(conns, batch, label)
        # Alternate who goes first, as both tables grow as we go.
        if round_no % 2 == 0:
            raw_rates.append(await append_rate(raw, writers, seconds))
        eaf_rates.append(await append_rate(eaf, writers, seconds))
        if round_no % 2 == 1:
            raw_rates.append(await append_rate(raw, writers, seconds))
    name = f"Append, {plural(writers, 'writer')}, {plural(batch, 'event')}/txn"
    return Figure("append", name, "events/s", max(eaf_rates), max(raw_rates), True)


async def bench_append(db: BenchDatabase, plan: Plan) -> list[Figure]:
    run_owner_sql(db, BASELINE_TABLE)
    most_writers = max(writers for writers, _ in APPEND_CASES)
    async with AsyncExitStack() as stack:
        pool = await open_pool(stack, db.runtime_dsn, size=most_writers)
        store = PostgresEventStore(pool)
        conns = [
            await open_connection(stack, db.owner_dsn) for _ in range(most_writers)
        ]
        return [await append_case(store, conns, case, plan) for case in APPEND_CASES]


# --- 2. loading a stream -----------------------------------------------------


class Incremented(DomainEvent):
    amount: int


class Counter(Aggregate):
    """The smallest aggregate worth snapshotting: a running total."""

    stream_type = "bench.counter"
    event_types = (Incremented,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.total = 0

    def increment(self, amount: int) -> None:
        self.record(Incremented(amount=amount))

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, Incremented):
            self.total += event.amount

    def snapshot_state(self) -> dict[str, Any]:
        return {"total": self.total}

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        counter = cls(aggregate_id)
        counter.total = int(state["total"])
        return counter


COPY_STREAM = (
    "INSERT INTO bench_events (event_id, tenant_id, stream_id, stream_type, "
    "stream_version, event_type, schema_version, payload, metadata) "
    "SELECT event_id, tenant_id, stream_id, stream_type, stream_version, "
    "event_type, schema_version, payload, metadata FROM events ORDER BY position"
)
BASELINE_LOAD = (
    "SELECT payload FROM bench_events WHERE tenant_id = %s AND stream_id = %s "
    "ORDER BY stream_version"
)

LoadCases = dict[str, Callable[[], Awaitable[Any]]]


async def write_counter(repository: Repository[Counter], tenant_id: str) -> str:
    """Save a counter of ``STREAM_LENGTH`` events, 100 per save."""
    counter = Counter("loaded")
    while counter.version < STREAM_LENGTH:
        for _ in range(100):
            counter.increment(1)
        await repository.save(tenant_id, counter)
    return counter.stream_id


async def check_loads(cases: LoadCases) -> None:
    """Load once each (warming up) and make sure all three see the whole stream."""
    rows = await cases["raw"]()
    assert len(rows) == STREAM_LENGTH, len(rows)
    for case in ("replay", "snapshot"):
        counter = await cases[case]()
        assert counter.version == counter.total == STREAM_LENGTH, vars(counter)


async def median_ms(cases: LoadCases, repeats: int) -> dict[str, float]:
    """Time every case in turn, ``repeats`` times over; median per case."""
    timings: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(repeats):
        for case, load in cases.items():
            started = time.perf_counter()
            await load()
            timings[case].append((time.perf_counter() - started) * 1000)
    return {case: statistics.median(values) for case, values in timings.items()}


async def bench_load(db: BenchDatabase, plan: Plan) -> list[Figure]:
    run_owner_sql(db, BASELINE_TABLE)
    tenant_id = "tenant-0"
    async with AsyncExitStack() as stack:
        store = PostgresEventStore(await open_pool(stack, db.runtime_dsn))
        repository = Repository(store, Counter, snapshot_every=SNAPSHOT_EVERY)
        stream_id = await write_counter(repository, tenant_id)
        run_owner_sql(db, COPY_STREAM)
        raw = await open_connection(stack, db.owner_dsn)

        async def load_raw() -> list[Any]:
            cur = await raw.execute(BASELINE_LOAD, (tenant_id, stream_id))
            return await cur.fetchall()

        cases: LoadCases = {
            "raw": load_raw,
            "replay": lambda: repository.load_without_snapshot(tenant_id, "loaded"),
            "snapshot": lambda: repository.load(tenant_id, "loaded"),
        }
        await check_loads(cases)
        medians = await median_ms(cases, plan.load_repeats)

    unit = "ms, median"
    return [
        Figure("load", "Load 1,000 events, no snapshot", unit,
               medians["replay"], medians["raw"], False),
        Figure("load", "Load 1,000 events, snapshot at 1,000", unit,
               medians["snapshot"], medians["raw"], False),
    ]  # fmt: skip


# --- 3. relay throughput -----------------------------------------------------


async def fill_store(
    store: PostgresEventStore, count: int, first_stream: int
) -> list[RecordedEvent]:
    """Append ``count`` events, 100 per stream and transaction, over ``TENANTS``."""
    recorded: list[RecordedEvent] = []
    for first in range(0, count, 100):
        events = [
            NewEvent("Incremented", event_payload(n), metadata=METADATA)
            for n in range(first, min(first + 100, count))
        ]
        stream_no = first_stream + first // 100
        tenant_id = f"tenant-{stream_no % TENANTS}"
        recorded += await store.append(
            tenant_id, f"counter-{stream_no}", "bench.counter", events, NO_STREAM
        )
    return recorded


async def open_bus(
    stack: AsyncExitStack, servers: Servers, kind: str, role: str
) -> NatsBus:
    """An EAF bus on a stream of this run; ``stack`` closes it.

    The first bus opened for a ``kind`` creates the stream and, as the stack
    unwinds, deletes it; later ones only connect.
    """
    tag = servers.run_tag
    bus = NatsBus(
        servers.nats_url,
        stream_name=f"BENCH_{tag}_{kind.upper()}",
        subject_prefix=f"bench{tag}{kind}",
        name=role,
    )
    await bus.connect()
    stack.push_async_callback(bus.close)
    if await bus.is_ready():
        return bus
    await bus.ensure_stream()
    stack.push_async_callback(bus.js.delete_stream, bus.stream_name)
    return bus


async def relay_round(
    db: BenchDatabase, store: PostgresEventStore, bus: NatsBus, count: int
) -> float:
    """Start a relay, wait until it reaches the head, stop it; events/s."""
    relay = Relay(db.runtime_dsn, store, bus, batch_size=RELAY_BATCH)
    head = await store.head_position()
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    try:
        await wait_until(lambda: relay.position >= head, "relay reaching the head")
        return count / (time.perf_counter() - started)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def raw_publish_round(
    js: JetStreamContext, stream: str, prefix: str, events: list[RecordedEvent]
) -> float:
    """Publish the relay's payloads, ``RELAY_BATCH`` at a time, awaiting acks."""
    messages = [(subject_for(prefix, event), encode_event(event)) for event in events]
    started = time.perf_counter()
    for first in range(0, len(messages), RELAY_BATCH):
        acks = [
            await js.publish_async(subject, payload, stream=stream)
            for subject, payload in messages[first : first + RELAY_BATCH]
        ]
        await asyncio.wait_for(asyncio.gather(*acks), timeout=30)
    return len(messages) / (time.perf_counter() - started)


async def bench_relay(servers: Servers, db: BenchDatabase, plan: Plan) -> list[Figure]:
    per_round = plan.relay_events // plan.relay_rounds
    tag = servers.run_tag
    raw_stream, raw_prefix = f"BENCH_{tag}_RAW", f"bench{tag}raw"
    eaf_rates, raw_rates = [], []
    async with AsyncExitStack() as stack:
        store = PostgresEventStore(await open_pool(stack, db.runtime_dsn))
        bus = await open_bus(stack, servers, "relay", "bench-relay")
        js = await open_jetstream(stack, servers.nats_url, raw_stream, raw_prefix)
        for round_no in range(plan.relay_rounds):
            events = await fill_store(store, per_round, round_no * per_round)
            publish_raw = raw_publish_round(js, raw_stream, raw_prefix, events)
            if round_no % 2 == 1:
                raw_rates.append(await publish_raw)
            eaf_rates.append(await relay_round(db, store, bus, len(events)))
            if round_no % 2 == 0:
                raw_rates.append(await publish_raw)
        for stream in (bus.stream_name, raw_stream):
            info = await js.stream_info(stream)
            assert info.state.messages == plan.relay_events, (stream, info.state)

    name = f"Relay {per_round:,} events to JetStream"
    return [Figure("relay", name, "events/s", max(eaf_rates), max(raw_rates), True)]


# --- 4. append-to-projection latency -----------------------------------------

PROJECTED_TABLES = """
CREATE TABLE bench_projected (
    event_id   uuid        PRIMARY KEY,
    tenant_id  text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE bench_projected_raw (LIKE bench_projected INCLUDING ALL);
GRANT SELECT, INSERT ON bench_projected, bench_projected_raw TO {role};
"""
PROJECT_ROW = "INSERT INTO {table} (event_id, tenant_id) VALUES (%s, %s)"

Sender = Callable[[int], Awaitable[None]]


class ProbeProjection(Projection):
    """Writes one row per event; the row's default stamps when it was applied."""

    name = "bench_probe"
    contexts = ("bench",)
    tables = ("bench_projected",)

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        statement = PROJECT_ROW.format(table="bench_projected")
        params = (event.event_id, event.tenant_id)
        await conn.execute(statement, params)


async def paced(send: Sender, gaps: list[float]) -> None:
    """Call ``send`` once per gap, on a schedule that does not drift."""
    next_at = time.perf_counter()
    for index, gap_s in enumerate(gaps):
        await send(index)
        next_at += gap_s
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


async def latencies_ms(
    db: BenchDatabase, table: str, sent_at: dict[str, float]
) -> list[float]:
    """Wait for every sent event's row; return wall-clock send-to-row times."""
    # Table names are constants of this module, never input.
    count = "SELECT count(*) FROM " + table  # noqa: S608
    columns = "event_id::text, extract(epoch FROM applied_at)::float8"
    query = f"SELECT {columns} FROM {table}"  # noqa: S608
    async with AsyncExitStack() as stack:
        conn = await open_connection(stack, db.owner_dsn)

        async def all_applied() -> bool:
            cur = await conn.execute(count)
            row = await cur.fetchone()
            return row is not None and row[0] >= len(sent_at)

        await wait_until(all_applied, f"{table} catching up", step_s=0.02)
        rows = await (await conn.execute(query)).fetchall()
    applied_at = dict(rows)
    return [(applied_at[key] - sent_s) * 1000 for key, sent_s in sent_at.items()]


async def eaf_latencies(
    servers: Servers, db: BenchDatabase, gaps: list[float]
) -> list[float]:
    sent_at: dict[str, float] = {}
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        store = PostgresEventStore(await open_pool(stack, db.runtime_dsn))
        relay_bus = await open_bus(stack, servers, "probe", "bench-relay")
        runner_bus = await open_bus(stack, servers, "probe", "bench-projection")
        relay = Relay(db.runtime_dsn, store, relay_bus)
        runner_pool = await open_pool(stack, db.runtime_dsn)
        runner = ProjectionRunner(runner_pool, runner_bus, ProbeProjection())
        tasks = [asyncio.create_task(worker.run(stop)) for worker in (relay, runner)]
        stack.push_async_callback(asyncio.wait_for, asyncio.gather(*tasks), 15)
        stack.callback(stop.set)

        async def send(index: int) -> None:
            event = NewEvent("Probed", event_payload(index), metadata=METADATA)
            sent_at[str(event.event_id)] = time.time()
            tenant_id, stream_id = f"tenant-{index % TENANTS}", f"probe-{index}"
            await store.append(tenant_id, stream_id, "bench.probe", [event], NO_STREAM)

        await wait_until(lambda: relay.is_active and runner.is_healthy, "startup")
        await paced(send, gaps)
        return await latencies_ms(db, "bench_projected", sent_at)


def probe_envelope(index: int) -> tuple[str, bytes]:
    """An event id and an envelope shaped like the ones the relay publishes."""
    event = RecordedEvent(
        position=index + 1,
        event_id=uuid.uuid4(),
        tenant_id=f"tenant-{index % TENANTS}",
        stream_id=f"probe-{index}",
        stream_type="bench.probe",
        stream_version=1,
        event_type="Probed",
        schema_version=1,
        payload=event_payload(index),
        metadata=METADATA,
        recorded_at=datetime.now(UTC),
    )
    return str(event.event_id), encode_event(event)


async def consume_raw(
    sub: JetStreamContext.PullSubscription,
    conn: psycopg.AsyncConnection[Any],
    stop: asyncio.Event,
) -> None:
    """Fetch one message at a time, insert its row, then ack it."""
    statement = PROJECT_ROW.format(table="bench_projected_raw")
    while not stop.is_set():
        try:
            messages = await sub.fetch(1, timeout=1.0)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        for message in messages:
            envelope = json.loads(message.data)
            params = (envelope["event_id"], envelope["tenant_id"])
            await conn.execute(statement, params)
            await message.ack()


async def baseline_latencies(
    servers: Servers, db: BenchDatabase, gaps: list[float]
) -> list[float]:
    tag = servers.run_tag
    stream, prefix = f"BENCH_{tag}_RAWPROBE", f"bench{tag}rawprobe"
    sent_at: dict[str, float] = {}
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        js = await open_jetstream(stack, servers.nats_url, stream, prefix)
        consumer = await nats.connect(servers.nats_url, name="bench-raw-consumer")
        stack.push_async_callback(consumer.close)
        sub = await consumer.jetstream().pull_subscribe(
            f"{prefix}.>", durable="bench-probe-raw", stream=stream
        )
        conn = await open_connection(stack, db.runtime_dsn)
        task = asyncio.create_task(consume_raw(sub, conn, stop))
        stack.push_async_callback(asyncio.wait_for, task, 15)
        stack.callback(stop.set)

        async def send(index: int) -> None:
            event_id, data = probe_envelope(index)
            sent_at[event_id] = time.time()
            subject = f"{prefix}.tenant-{index % TENANTS}.bench.Probed"
            await js.publish(subject, data, stream=stream)

        await paced(send, gaps)
        return await latencies_ms(db, "bench_projected_raw", sent_at)


def percentile(values: list[float], cut: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[cut - 1]


async def bench_latency(
    servers: Servers, db: BenchDatabase, plan: Plan
) -> list[Figure]:
    run_owner_sql(db, PROJECTED_TABLES.format(role=RUNTIME_ROLE))
    rng = random.Random(20_261_204)  # a fixed schedule, the same for both sides
    gaps = [rng.uniform(*LATENCY_GAP_S) for _ in range(plan.latency_events)]
    eaf = await eaf_latencies(servers, db, gaps)
    raw = await baseline_latencies(servers, db, gaps)
    return [
        Figure("latency", f"Append to projection, {label}", "ms",
               percentile(eaf, cut), percentile(raw, cut), False)
        for label, cut in (("p50", 50), ("p99", 99))
    ]  # fmt: skip


# --- running and reporting ---------------------------------------------------


async def run_sections(
    servers: Servers, databases: dict[str, BenchDatabase], plan: Plan
) -> list[Figure]:
    figures = await bench_append(databases["append"], plan)
    figures += await bench_load(databases["load"], plan)
    figures += await bench_relay(servers, databases["relay"], plan)
    figures += await bench_latency(servers, databases["latency"], plan)
    return figures


async def server_versions(servers: Servers) -> dict[str, str]:
    with psycopg.connect(servers.admin_dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    client = await nats.connect(servers.nats_url, name="bench-version")
    version = client.connected_server_version
    await client.close()
    return {
        "postgres": str(row[0]) if row else "?",
        "nats": f"{version.major}.{version.minor}.{version.patch}",
    }


def format_value(value: float, unit: str) -> str:
    return f"{value:,.0f}" if unit == "events/s" else f"{value:,.2f}"


def format_ratio(figure: Figure) -> str:
    slower = figure.times_slower
    if slower >= 1:
        return f"{slower:.2f}× slower"
    return f"{1 / slower:.2f}× faster"


def print_table(figures: list[Figure], title: str) -> None:
    console = Console(width=None if sys.stdout.isatty() else 100)
    table = Table(title=title, title_justify="left")
    table.add_column("Figure")
    table.add_column("Unit")
    table.add_column("EAF", justify="right")
    table.add_column("Baseline", justify="right")
    table.add_column("EAF vs baseline", justify="right")
    for index, figure in enumerate(figures):
        is_last = index + 1 == len(figures)
        ends_section = is_last or figures[index + 1].section != figure.section
        table.add_row(
            figure.name,
            figure.unit,
            format_value(figure.eaf, figure.unit),
            format_value(figure.baseline, figure.unit),
            format_ratio(figure),
            end_section=ends_section,
        )
    console.print(table)


def write_json(path: Path, figures: list[Figure], about: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    results = {**about, "figures": [figure.as_json() for figure in figures]}
    path.write_text(json.dumps(results, indent=2) + "\n")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help="where to write the results (default: bench/results/foundation.json)",
    )
    parser.add_argument(
        "--external",
        action="store_true",
        help="use EAF_TEST_DATABASE_URL and EAF_TEST_NATS_URL instead of "
        "starting embedded servers",
    )
    return parser.parse_args()


def main() -> None:
    """Start servers, run every section, print the table and save the JSON."""
    args = parse_args()
    configure_logging(level="warning", fmt="console")
    plan = QUICK if args.quick else FULL

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with running_servers(args.external) as servers:
        template = servers.migrated_template()
        databases = {name: servers.clone(template, name) for name in SECTIONS}
        versions = asyncio.run(server_versions(servers))
        figures = asyncio.run(run_sections(servers, databases, plan))
    elapsed_s = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    where = "external" if args.external else "embedded"
    title = (
        f"EAF foundation: {'quick' if args.quick else 'full'} run, {where} "
        f"PostgreSQL {versions['postgres']} and NATS {versions['nats']}, "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before and "
        f"{load_after:.1f} after, {elapsed_s:.0f} s"
    )
    print_table(figures, title)
    write_json(
        args.json,
        figures,
        {
            "quick": args.quick,
            "servers": {**versions, "external": args.external},
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_1m": {
                "before": round(load_before, 2),
                "after": round(load_after, 2),
            },
            "elapsed_s": round(elapsed_s, 1),
            "plan": asdict(plan),
        },
    )


if __name__ == "__main__":
    main()
