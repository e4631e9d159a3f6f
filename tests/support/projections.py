"""A projection for tests that records every event it applies."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from nats.js.errors import NotFoundError

from eaf.bus.nats import NatsBus
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
        conn.execute(TABLE_DDL.format(role=RUNTIME_ROLE))


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


async def consumer_caught_up(bus: NatsBus, durable_name: str) -> bool:
    """Whether the consumer has acked every message the stream holds.

    Assumes every message in the stream matches the consumer's filter, as in
    these tests; the ack floor only moves past messages the consumer receives.
    """
    stream = await bus.js.stream_info(bus.stream_name)
    try:
        consumer = await bus.js.consumer_info(bus.stream_name, durable_name)
    except NotFoundError:
        return False
    return (
        consumer.num_pending == 0
        and consumer.num_ack_pending == 0
        and consumer.ack_floor is not None
        and consumer.ack_floor.stream_seq >= stream.state.last_seq
    )


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
    "consumer_caught_up",
    "create_applied_table",
    "wait_until",
]
