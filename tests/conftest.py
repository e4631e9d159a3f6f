"""Fixtures shared by the whole suite: real servers, databases, buses."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from eaf.bus.nats import NatsBus
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from tests.support import servers as test_servers


@pytest.fixture(scope="session")
def servers() -> Iterator[test_servers.Servers]:
    # Not under pytest's temp tree: each pytest run makes that tree 0700, which
    # would lock out the unprivileged account PostgreSQL runs as under root.
    base = Path(tempfile.mkdtemp(prefix="eaf-test-servers-"))
    running = test_servers.start_servers(base)
    yield running
    test_servers.stop_servers(running)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(servers: test_servers.Servers) -> Iterator[str]:
    name = test_servers.create_template(servers)
    yield name
    test_servers.drop_database(servers, name)


@pytest.fixture
def database(
    servers: test_servers.Servers, template_database: str
) -> Iterator[test_servers.ClonedDatabase]:
    created = test_servers.clone_database(servers, template_database)
    yield created
    test_servers.drop_database(servers, created.name)


@pytest.fixture
async def db(database: test_servers.ClonedDatabase) -> AsyncIterator[Database]:
    pool = Database(database.runtime_dsn, min_size=1, max_size=20)
    await pool.open()
    yield pool
    await pool.close()


@pytest.fixture
def store(db: Database) -> PostgresEventStore:
    return PostgresEventStore(db)


@pytest.fixture
def stream_names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"T{suffix}", f"t{suffix}"


@pytest.fixture
async def bus(
    servers: test_servers.Servers, stream_names: tuple[str, str]
) -> AsyncIterator[NatsBus]:
    stream_name, prefix = stream_names
    nats_bus = NatsBus(
        servers.nats_url, stream_name=stream_name, subject_prefix=prefix, name="test"
    )
    await nats_bus.connect()
    await nats_bus.ensure_stream()
    yield nats_bus
    try:
        await nats_bus.js.delete_stream(stream_name)
    finally:
        await nats_bus.close()


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def tenant() -> str:
    return new_tenant()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
