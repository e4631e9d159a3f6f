"""PostgreSQL and NATS for the benchmarks, and scratch databases on them.

By default the benchmarks start embedded servers in a fresh scratch directory
and remove it afterwards. With ``external=True`` they use the servers named by
``EAF_TEST_DATABASE_URL`` and ``EAF_TEST_NATS_URL`` and only add (then drop)
uniquely named databases and streams there. The helpers at the end open
pools, connections and streams that close or go away with an exit stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import psycopg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from eaf.db import migrate
from eaf.db.pool import Database
from eaf.runtime.embedded import EmbeddedNats, EmbeddedPostgres

RUNTIME_ROLE = "eaf_app"
# The role is cluster-wide: on an external server it is shared with the test
# suite, so the benchmark sets the same throwaway password the suite sets.
RUNTIME_PASSWORD = "eaf-test-runtime"  # noqa: S105 - a throwaway local role
WAIT_LIMIT_S = 120.0


@dataclass(frozen=True)
class BenchDatabase:
    """One scratch database, migrated, with its owner and runtime DSNs."""

    name: str
    owner_dsn: str
    runtime_dsn: str


@dataclass
class Servers:
    """Running servers and what the benchmark created on them."""

    admin_dsn: str
    nats_url: str
    is_external: bool
    run_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    created: list[str] = field(default_factory=list)

    def dsn_for(self, dbname: str) -> str:
        params = conninfo_to_dict(self.admin_dsn)
        params["dbname"] = dbname
        return make_conninfo("", **params)

    def create_database(self, suffix: str, template: str | None = None) -> str:
        name = f"eaf_bench_{self.run_tag}_{suffix}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("{} TEMPLATE {}").format(
                statement, sql.Identifier(template)
            )
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(statement)
        self.created.append(name)
        return name

    def migrated_template(self) -> str:
        """A database at the newest schema revision, to clone per benchmark."""
        name = self.create_database("template")
        migrate.upgrade(self.dsn_for(name), RUNTIME_ROLE, RUNTIME_PASSWORD)
        return name

    def clone(self, template: str, suffix: str) -> BenchDatabase:
        name = self.create_database(suffix, template=template)
        owner_dsn = self.dsn_for(name)
        runtime_dsn = migrate.runtime_dsn(owner_dsn, RUNTIME_ROLE, RUNTIME_PASSWORD)
        return BenchDatabase(name, owner_dsn, runtime_dsn)

    def drop_created(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            for name in reversed(self.created):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(name)
                    )
                )
        self.created.clear()


@contextlib.contextmanager
def running_servers(external: bool) -> Iterator[Servers]:
    """Servers for one benchmark run, cleaned up however the run ends."""
    if external:
        servers = _external_servers()
        try:
            yield servers
        finally:
            servers.drop_created()
        return

    # Not under a pytest temp tree: PostgreSQL runs as an unprivileged account
    # when we are root and must be able to traverse this directory.
    scratch = Path(tempfile.mkdtemp(prefix="eaf-bench-"))
    postgres = EmbeddedPostgres(scratch / "pg", database="postgres")
    nats = EmbeddedNats(scratch / "nats")
    try:
        postgres.start()
        nats.start()
        yield Servers(postgres.admin_url, nats.url, is_external=False)
    finally:
        nats.stop()
        postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _external_servers() -> Servers:
    database_url = os.environ.get("EAF_TEST_DATABASE_URL")
    nats_url = os.environ.get("EAF_TEST_NATS_URL")
    if not (database_url and nats_url):
        raise SystemExit(
            "--external needs EAF_TEST_DATABASE_URL and EAF_TEST_NATS_URL; "
            "without --external the benchmark starts servers of its own"
        )
    return Servers(database_url, nats_url, is_external=True)


# --- plumbing the benchmarks share ------------------------------------------


async def wait_until(
    predicate: Callable[[], Awaitable[bool] | bool], what: str, step_s: float = 0.002
) -> None:
    """Poll ``predicate`` until it holds; give up after ``WAIT_LIMIT_S``."""
    deadline = time.perf_counter() + WAIT_LIMIT_S
    while time.perf_counter() < deadline:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(step_s)
    raise TimeoutError(f"{what} did not happen within {WAIT_LIMIT_S:g} s")


async def open_pool(
    stack: contextlib.AsyncExitStack, dsn: str, size: int = 4
) -> Database:
    """An open runtime pool that closes when ``stack`` unwinds."""
    pool = Database(dsn, min_size=size, max_size=size)
    await pool.open()
    stack.push_async_callback(pool.close)
    return pool


async def open_connection(
    stack: contextlib.AsyncExitStack, dsn: str
) -> psycopg.AsyncConnection[Any]:
    """A plain autocommit connection that closes when ``stack`` unwinds."""
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    return await stack.enter_async_context(conn)


async def open_jetstream(
    stack: contextlib.AsyncExitStack, url: str, stream: str, prefix: str
) -> JetStreamContext:
    """A raw nats-py JetStream context and a stream set up like NatsBus's own.

    The stream is deleted and the client closed when ``stack`` unwinds.
    """
    client = await nats.connect(url, name="bench-raw")
    stack.push_async_callback(client.close)
    js = client.jetstream(timeout=5.0)
    await js.add_stream(
        StreamConfig(
            name=stream,
            subjects=[f"{prefix}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            num_replicas=1,
            duplicate_window=120.0,
        )
    )
    stack.push_async_callback(js.delete_stream, stream)
    return js


def run_owner_sql(db: BenchDatabase, statement: str) -> None:
    with psycopg.connect(db.owner_dsn, autocommit=True) as conn:
        conn.execute(statement)
