"""Operator actions on projections: status, parked events, replay, rebuild."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
import structlog
from psycopg import sql
from psycopg.rows import dict_row

from eaf.db.pool import Connection, Database
from eaf.eventstore.model import RecordedEvent
from eaf.eventstore.postgres import PostgresEventStore
from eaf.projections.base import Projection
from eaf.projections.checkpoints import lock_checkpoint

log = structlog.get_logger(__name__)

SHADOW_SCHEMA = "eaf_rebuild"


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    head: int
    parked: int
    updated_at: datetime | None

    @property
    def lag(self) -> int:
        # TODO: measure against the newest event of the projection's own
        # contexts; the checkpoint moves only on those, so events of other
        # contexts show as lag until the projection's next event. Needs a
        # security-definer head function per context list (a new revision).
        return max(self.head - self.position, 0)


@dataclass(frozen=True)
class ParkedMessage:
    id: int
    consumer: str
    event_id: str
    position: int
    tenant_id: str
    event_type: str
    error: str
    attempts: int
    parked_at: datetime
    replayed_at: datetime | None


async def projection_status(
    db: Database, store: PostgresEventStore, projections: Sequence[Projection]
) -> list[ProjectionStatus]:
    head = await store.head_position()
    async with db.transaction() as conn:
        cur = await conn.execute("SELECT name, position, updated_at FROM checkpoints")
        checkpoints = {row["name"]: row for row in await cur.fetchall()}
        cur = await conn.execute(
            "SELECT consumer, count(*) AS parked FROM parked_messages "
            "WHERE replayed_at IS NULL GROUP BY consumer"
        )
        parked = {row["consumer"]: int(row["parked"]) for row in await cur.fetchall()}
    statuses = []
    for projection in projections:
        row = checkpoints.get(projection.checkpoint_name)
        statuses.append(
            ProjectionStatus(
                name=projection.name,
                position=int(row["position"]) if row else 0,
                head=head,
                parked=parked.get(projection.name, 0),
                updated_at=row["updated_at"] if row else None,
            )
        )
    return statuses


async def list_parked(
    db: Database, consumer: str | None = None, include_replayed: bool = False
) -> list[ParkedMessage]:
    query = (
        "SELECT id, consumer, event_id::text, position, tenant_id, event_type, "
        "error, attempts, parked_at, replayed_at FROM parked_messages "
        "WHERE (%(consumer)s::text IS NULL OR consumer = %(consumer)s) "
        "AND (%(all)s OR replayed_at IS NULL) ORDER BY id"
    )
    async with db.transaction() as conn:
        cur = await conn.execute(query, {"consumer": consumer, "all": include_replayed})
        return [ParkedMessage(**row) for row in await cur.fetchall()]


@dataclass(frozen=True)
class ReplayResult:
    id: int
    event_id: str
    succeeded: bool
    error: str | None = None


async def replay_parked(
    db: Database,
    projections: Sequence[Projection],
    ids: Sequence[int] | None = None,
) -> list[ReplayResult]:
    """Apply parked events again; each succeeds at most once, failures stay parked."""
    by_name = {projection.name: projection for projection in projections}
    results = []
    for message in await list_parked(db):
        if ids is not None and message.id not in ids:
            continue
        projection = by_name.get(message.consumer)
        if projection is None:
            continue
        results.append(await _replay_one(db, projection, message))
    return results


async def _replay_one(
    db: Database, projection: Projection, message: ParkedMessage
) -> ReplayResult:
    try:
        async with db.transaction(message.tenant_id) as conn:
            cur = await conn.execute(
                "SELECT envelope FROM parked_messages "
                "WHERE id = %s AND replayed_at IS NULL FOR UPDATE",
                (message.id,),
            )
            row = await cur.fetchone()
            if row is None:
                return ReplayResult(
                    message.id, message.event_id, False, "already replayed"
                )
            event = RecordedEvent.from_envelope(row["envelope"])
            await projection.apply(conn, event)
            await conn.execute(
                "UPDATE parked_messages SET replayed_at = now() WHERE id = %s",
                (message.id,),
            )
    except Exception as exc:  # noqa: BLE001 - report, keep it parked
        error = f"{type(exc).__name__}: {exc}"
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE parked_messages SET error = %s, attempts = attempts + 1 "
                "WHERE id = %s",
                (error[:4000], message.id),
            )
        return ReplayResult(message.id, message.event_id, False, error)
    log.info("projection.parked_replayed", projection=projection.name, id=message.id)
    return ReplayResult(message.id, message.event_id, True)


_INDEX_NAME = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (\S+)")


def _index_shape(definition: str) -> str:
    """An index definition without its own name and schema, to pair old and new."""
    match = _INDEX_NAME.match(definition)
    if not match:
        return definition
    table = match.group(3).split(".")[-1]
    return f"{match.group(1) or ''}INDEX ON {table}{definition[match.end() :]}"


async def rebuild_projection(
    owner_dsn: str,
    runtime_role: str,
    store: PostgresEventStore,
    projection: Projection,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 1000,
) -> int:
    """Replay the whole event store into shadow tables, then swap them in.

    The live tables keep serving until the swap, which happens in one transaction
    that also holds the projection's checkpoint, so the live consumer pauses only
    for the last catch-up and continues from the rebuilt position.
    Parked events up to that position count as settled, since the rebuild
    applied them. Returns the position the rebuilt read model stands at.
    """
    async with await psycopg.AsyncConnection.connect(
        owner_dsn, row_factory=dict_row
    ) as conn:
        await _create_shadow_tables(conn, projection, runtime_role)
        await conn.commit()
        head = await store.head_position()
        position = await _replay_into_shadow(
            conn, store, projection, 0, head, progress, batch_size
        )
        async with conn.transaction():
            await lock_checkpoint(conn, projection.checkpoint_name)
            final_head = await _head(conn)
            position = await _replay_into_shadow(
                conn,
                store,
                projection,
                position,
                final_head,
                progress,
                batch_size,
                commit=False,
            )
            await _swap_in(conn, projection)
            await conn.execute(
                "UPDATE checkpoints SET position = %s, updated_at = now() "
                "WHERE name = %s",
                (position, projection.checkpoint_name),
            )
            resolved = await _resolve_parked(conn, projection, position)
    log.info(
        "projection.rebuilt",
        projection=projection.name,
        position=position,
        parked_resolved=resolved,
    )
    return position


async def _resolve_parked(
    conn: Connection, projection: Projection, position: int
) -> int:
    """Settle parked events the rebuild applied, so no replay applies them again."""
    # TODO: record how each parked event was settled (replay or rebuild); the
    # table has only replayed_at, which now stands for both.
    cur = await conn.execute(
        "UPDATE parked_messages SET replayed_at = now() "
        "WHERE consumer = %s AND replayed_at IS NULL AND position <= %s",
        (projection.name, position),
    )
    return cur.rowcount


async def _head(conn: Connection) -> int:
    cur = await conn.execute("SELECT coalesce(max(position), 0) AS head FROM events")
    row = await cur.fetchone()
    return int(row["head"]) if row else 0


async def _create_shadow_tables(
    conn: Connection,
    projection: Projection,
    runtime_role: str,
) -> None:
    await conn.execute(
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SHADOW_SCHEMA))
    )
    for table in projection.tables:
        shadow = sql.Identifier(SHADOW_SCHEMA, table)
        await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(shadow))
        await conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                shadow, sql.Identifier("public", table)
            )
        )
        await conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                shadow, sql.Identifier(runtime_role)
            )
        )
        cur = await conn.execute(
            "SELECT relrowsecurity FROM pg_class WHERE oid = %s::regclass",
            (f"public.{table}",),
        )
        row = await cur.fetchone()
        if row and row["relrowsecurity"]:
            await conn.execute(
                sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(shadow)
            )
            await conn.execute(
                sql.SQL(
                    "CREATE POLICY tenant_isolation ON {} "
                    "USING (tenant_id = current_setting('eaf.tenant_id', true)) "
                    "WITH CHECK (tenant_id = current_setting('eaf.tenant_id', true))"
                ).format(shadow)
            )


async def _replay_into_shadow(
    conn: Connection,
    store: PostgresEventStore,
    projection: Projection,
    after: int,
    until: int,
    progress: Callable[[int, int], None] | None,
    batch_size: int,
    commit: bool = True,
) -> int:
    position = after
    while position < until:
        await conn.execute(
            sql.SQL("SET LOCAL search_path = {}, public").format(
                sql.Identifier(SHADOW_SCHEMA)
            )
        )
        events = await store.read_all_in(conn, position, batch_size)
        if not events:
            break
        for event in events:
            if event.position > until:
                break
            if projection.handles(event):
                await projection.apply(conn, event)
            position = event.position
        if commit:
            await conn.commit()
        if progress is not None:
            progress(position, until)
    return position


async def _swap_in(conn: Connection, projection: Projection) -> None:
    for table in projection.tables:
        old_indexes = await _indexes(conn, "public", table)
        # Drop the live table first: the shadow's default index names may equal
        # the live ones, and both cannot exist in one schema. The transaction
        # keeps the swap atomic for readers.
        await conn.execute(
            sql.SQL("DROP TABLE {}").format(sql.Identifier("public", table))
        )
        await conn.execute(
            sql.SQL("ALTER TABLE {} SET SCHEMA public").format(
                sql.Identifier(SHADOW_SCHEMA, table)
            )
        )
        new_indexes = await _indexes(conn, "public", table)
        # Keep the index and constraint names the migrations gave, so later
        # revisions can still refer to them.
        for shape, new_name in new_indexes.items():
            wanted = old_indexes.get(shape)
            if wanted and wanted != new_name:
                await _rename_index(conn, new_name, wanted)


async def _indexes(conn: Connection, schema: str, table: str) -> dict[str, str]:
    cur = await conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = %s AND tablename = %s",
        (schema, table),
    )
    return {
        _index_shape(row["indexdef"]): row["indexname"] for row in await cur.fetchall()
    }


async def _rename_index(conn: Connection, current: str, wanted: str) -> None:
    cur = await conn.execute(
        "SELECT conname FROM pg_constraint WHERE conname = %s", (current,)
    )
    statement = (
        "ALTER TABLE {table} RENAME CONSTRAINT {current} TO {wanted}"
        if await cur.fetchone()
        else "ALTER INDEX {current_q} RENAME TO {wanted}"
    )
    cur = await conn.execute(
        "SELECT tablename FROM pg_indexes "
        "WHERE schemaname = 'public' AND indexname = %s",
        (current,),
    )
    row = await cur.fetchone()
    await conn.execute(
        sql.SQL(statement).format(
            table=sql.Identifier("public", row["tablename"] if row else ""),
            current=sql.Identifier(current),
            current_q=sql.Identifier("public", current),
            wanted=sql.Identifier(wanted),
        )
    )
