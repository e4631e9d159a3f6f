"""Opening the database and store for one-off operator commands."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.runtime.launcher import Connections, external_connections
from eaf.settings import Settings


@contextlib.asynccontextmanager
async def open_store(
    settings: Settings,
) -> AsyncIterator[tuple[Connections, Database, PostgresEventStore]]:
    connections = external_connections(settings)
    db = Database(connections.runtime_dsn, min_size=1, max_size=2)
    await db.open()
    try:
        yield (
            connections,
            db,
            PostgresEventStore(db, lock_idle_timeout_s=settings.append_idle_timeout_s),
        )
    finally:
        await db.close()
