"""The event store on PostgreSQL.

Appends take a transaction-level advisory lock just before they insert. Positions
are therefore drawn in commit order: a reader that has seen position N will never
later find a committed event below N, and no reader has to wait on gaps left by
rolled-back appends. The lock is held only for the insert and the commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from eaf.db.pool import Connection, Database
from eaf.errors import InfrastructureError
from eaf.eventstore.errors import ConcurrencyError, TenantRequiredError
from eaf.eventstore.model import NewEvent, RecordedEvent, Snapshot
from eaf.eventstore.names import check_names
from eaf.eventstore.upcasting import UpcasterChain

APPEND_LOCK_KEY = 0x4541465F41505044  # "EAF_APPD": one key for every append
APPENDED_CHANNEL = "eaf_events_appended"

# Column lists below are constants of this module, never input: S608 is moot.
_COLUMNS = (
    "position, event_id, tenant_id, stream_id, stream_type, stream_version, "
    "event_type, schema_version, payload, metadata, recorded_at"
)
_INSERT = (
    "INSERT INTO events (event_id, tenant_id, stream_id, stream_type, "
    "stream_version, event_type, schema_version, payload, metadata) VALUES "
)
_INSERT_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
_RETURNING = f" RETURNING {_COLUMNS}"
# Well below the protocol's limit of 65535 parameters per statement.
_ROWS_PER_INSERT = 1000


def _to_recorded(row: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        event_id=row["event_id"],
        tenant_id=row["tenant_id"],
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        stream_version=row["stream_version"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        payload=row["payload"],
        metadata=row["metadata"],
        recorded_at=row["recorded_at"],
    )


async def _insert_rows(
    conn: Connection, rows: Sequence[tuple[Any, ...]]
) -> list[RecordedEvent]:
    # One plain statement rather than executemany: the pipeline executemany
    # uses can leave the server without its idle-in-transaction timer.
    values = ", ".join([_INSERT_ROW] * len(rows))
    cur = await conn.execute(
        _INSERT + values + _RETURNING,
        [value for row in rows for value in row],
    )
    inserted = [_to_recorded(row) for row in await cur.fetchall()]
    return sorted(inserted, key=lambda event: event.stream_version)


class PostgresEventStore:
    """Append, read and snapshot event streams in one PostgreSQL database."""

    def __init__(
        self,
        db: Database,
        upcasters: UpcasterChain | None = None,
        batch_size: int = 500,
        lock_idle_timeout_s: float = 60.0,
    ) -> None:
        self.db = db
        self.upcasters = upcasters or UpcasterChain()
        self.batch_size = batch_size
        self.lock_idle_timeout_s = lock_idle_timeout_s

    async def append(
        self,
        tenant_id: str,
        stream_id: str,
        stream_type: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
        *,
        conn: Connection | None = None,
    ) -> list[RecordedEvent]:
        """Append ``events`` atomically if the stream is at ``expected_version``.

        With ``conn``, the append joins the caller's transaction (which must be
        scoped to ``tenant_id``); call it last, just before the commit, since it
        holds the append lock until then. A transaction left idle for longer
        than ``lock_idle_timeout_s`` after the append is ended by the server
        (0 turns this off).

        Raises:
            ConcurrencyError: the stream is not at ``expected_version``.
            InvalidNameError: a name cannot be published on the bus.
        """
        if not tenant_id:
            raise TenantRequiredError("append needs a tenant id")
        if not events:
            return []
        check_names(tenant_id, stream_type, (event.event_type for event in events))
        if conn is not None:
            return await self._append_in(
                conn, tenant_id, stream_id, stream_type, events, expected_version
            )
        try:
            async with self.db.transaction(tenant_id) as own_conn:
                return await self._append_in(
                    own_conn,
                    tenant_id,
                    stream_id,
                    stream_type,
                    events,
                    expected_version,
                )
        except psycopg.OperationalError as exc:
            raise InfrastructureError(f"append failed: {exc}") from exc

    async def _append_in(
        self,
        conn: Connection,
        tenant_id: str,
        stream_id: str,
        stream_type: str,
        events: Sequence[NewEvent],
        expected_version: int | None,
    ) -> list[RecordedEvent]:
        # Every writer waits for the append lock, so a transaction that takes
        # it and then idles (a caller awaiting something else before its
        # commit) would stall them all: the server ends such a session once
        # the timeout passes. The notification is delivered at commit and
        # wakes an idle relay.
        idle_timeout_ms = str(max(int(self.lock_idle_timeout_s * 1000), 0))
        await conn.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, true), "
            "pg_advisory_xact_lock(%s), pg_notify(%s, '')",
            (idle_timeout_ms, APPEND_LOCK_KEY, APPENDED_CHANNEL),
        )
        current = await self._version_in(conn, tenant_id, stream_id)
        if expected_version is not None and current != expected_version:
            raise ConcurrencyError(tenant_id, stream_id, expected_version, current)
        rows = [
            (
                event.event_id,
                tenant_id,
                stream_id,
                stream_type,
                current + offset,
                event.event_type,
                event.schema_version,
                Jsonb(event.payload),
                Jsonb(event.metadata),
            )
            for offset, event in enumerate(events, start=1)
        ]
        recorded: list[RecordedEvent] = []
        try:
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                recorded += await _insert_rows(
                    conn, rows[start : start + _ROWS_PER_INSERT]
                )
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "events_stream_version_key":
                raise
            # Only reachable if a writer bypassed the append lock.
            actual = current + len(events)
            raise ConcurrencyError(
                tenant_id, stream_id, expected_version or current, actual
            ) from exc
        return recorded

    async def _version_in(
        self, conn: Connection, tenant_id: str, stream_id: str
    ) -> int:
        cur = await conn.execute(
            "SELECT coalesce(max(stream_version), 0) AS version FROM events "
            "WHERE tenant_id = %s AND stream_id = %s",
            (tenant_id, stream_id),
        )
        row = await cur.fetchone()
        return int(row["version"]) if row else 0

    async def stream_version(self, tenant_id: str, stream_id: str) -> int:
        async with self.db.transaction(tenant_id) as conn:
            return await self._version_in(conn, tenant_id, stream_id)

    async def read_stream(
        self, tenant_id: str, stream_id: str, after_version: int = 0
    ) -> AsyncIterator[RecordedEvent]:
        """Events of one stream after ``after_version``, upcast, in batches.

        Memory stays bounded by the batch size however long the stream is.
        """
        last = after_version
        while True:
            async with self.db.transaction(tenant_id) as conn:
                cur = await conn.execute(
                    f"SELECT {_COLUMNS} FROM events WHERE tenant_id = %s "  # noqa: S608
                    "AND stream_id = %s AND stream_version > %s "
                    "ORDER BY stream_version LIMIT %s",
                    (tenant_id, stream_id, last, self.batch_size),
                )
                rows = await cur.fetchall()
            for row in rows:
                yield self.upcasters.upcast(_to_recorded(row))
            if len(rows) < self.batch_size:
                return
            last = rows[-1]["stream_version"]

    async def read_all(
        self, after_position: int = 0, limit: int = 500
    ) -> list[RecordedEvent]:
        """Events of every tenant after ``after_position`` in global order."""
        async with self.db.transaction() as conn:
            return await self.read_all_in(conn, after_position, limit)

    async def read_all_in(
        self, conn: Connection, after_position: int, limit: int
    ) -> list[RecordedEvent]:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM eaf_read_all_events(%s, %s)",  # noqa: S608
            (after_position, limit),
        )
        return [
            self.upcasters.upcast(_to_recorded(row)) for row in await cur.fetchall()
        ]

    async def head_position(self) -> int:
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT eaf_head_position() AS head")
            row = await cur.fetchone()
            return int(row["head"]) if row else 0

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        async with self.db.transaction(snapshot.tenant_id) as conn:
            await conn.execute(
                "INSERT INTO snapshots (tenant_id, stream_id, stream_type, "
                "stream_version, snapshot_version, state) "
                "VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (tenant_id, stream_id) DO UPDATE SET "
                "stream_type = excluded.stream_type, "
                "stream_version = excluded.stream_version, "
                "snapshot_version = excluded.snapshot_version, "
                "state = excluded.state, taken_at = now() "
                "WHERE snapshots.stream_version < excluded.stream_version",
                (
                    snapshot.tenant_id,
                    snapshot.stream_id,
                    snapshot.stream_type,
                    snapshot.stream_version,
                    snapshot.snapshot_version,
                    Jsonb(snapshot.state),
                ),
            )

    async def load_snapshot(self, tenant_id: str, stream_id: str) -> Snapshot | None:
        async with self.db.transaction(tenant_id) as conn:
            cur = await conn.execute(
                "SELECT tenant_id, stream_id, stream_type, stream_version, "
                "snapshot_version, state FROM snapshots "
                "WHERE tenant_id = %s AND stream_id = %s",
                (tenant_id, stream_id),
            )
            row = await cur.fetchone()
        return Snapshot(**row) if row else None
