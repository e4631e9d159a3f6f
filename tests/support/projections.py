"""A projection for tests that records every event it applies."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from eaf.db.pool import Connection, Database
from eaf.eventstore.model import RecordedEvent
from eaf.projections.base import Projection
from tests.support.servers import RUNTIME_ROLE

TABLE_DDL = """
CREATE TABLE test_applied (
    tenant_id text   NOT NULL,
    event_id  uuid   NOT NULL,
    position  bigint NOT NULL
);
CREATE INDEX test_applied_event_idx ON test_applied (event_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON test_applied TO {role};
"""


def create_applied_table(owner_dsn: str) -> None:
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute(TABLE_DDL.format(role=RUNTIME_ROLE))  # type: ignore[arg-type]


class RecordingProjection(Projection):
    """Inserts one row per applied event; may be told to fail on some events."""

    contexts = ("test",)
    tables = ("test_applied",)

    def __init__(
        self,
        name: str = "recording",
        fails_on: Callable[[RecordedEvent], bool] | None = None,
    ) -> None:
        self.name = name  # type: ignore[misc]
        self.fails_on = fails_on

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        if self.fails_on is not None and self.fails_on(event):
            raise ValueError(f"cannot handle event {event.position}")
        await conn.execute(
            "INSERT INTO test_applied (tenant_id, event_id, position) "
            "VALUES (%s, %s, %s)",
            (event.tenant_id, event.event_id, event.position),
        )


async def applied_counts(owner_dsn: str) -> dict[str, int]:
    """How many times each event id was applied (read as owner: all tenants)."""
    async with await psycopg.AsyncConnection.connect(owner_dsn) as conn:
        cur = await conn.execute(
            "SELECT event_id::text, count(*) FROM test_applied GROUP BY event_id"
        )
        return {event_id: count for event_id, count in await cur.fetchall()}


async def wait_until(predicate: Callable[[], object], timeout_s: float = 30.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s} s")


__all__ = [
    "Database",
    "RecordingProjection",
    "applied_counts",
    "create_applied_table",
    "wait_until",
]
