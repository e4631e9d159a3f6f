"""Applying one event to a projection exactly once, with its checkpoint."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from eaf.db.pool import Connection
from eaf.eventstore.model import RecordedEvent
from eaf.projections.base import Projection


async def lock_checkpoint(conn: Connection, name: str) -> int:
    """The checkpoint's position, row-locked until the transaction ends."""
    await conn.execute(
        "INSERT INTO checkpoints (name, position) VALUES (%s, 0) "
        "ON CONFLICT (name) DO NOTHING",
        (name,),
    )
    cur = await conn.execute(
        "SELECT position FROM checkpoints WHERE name = %s FOR UPDATE", (name,)
    )
    row = await cur.fetchone()
    return int(row["position"]) if row else 0


async def set_checkpoint(conn: Connection, name: str, position: int) -> None:
    await conn.execute(
        "UPDATE checkpoints SET position = greatest(position, %s), "
        "updated_at = now() WHERE name = %s",
        (position, name),
    )


async def apply_once(
    conn: Connection, projection: Projection, event: RecordedEvent
) -> bool:
    """Apply ``event`` unless the checkpoint is already past it.

    Returns whether it was applied. Redelivered and republished events arrive at
    or below the checkpoint and are skipped, which makes delivery idempotent.
    """
    checkpoint = await lock_checkpoint(conn, projection.checkpoint_name)
    if event.position <= checkpoint:
        return False
    if projection.handles(event):
        await projection.apply(conn, event)
    await set_checkpoint(conn, projection.checkpoint_name, event.position)
    return True


async def park_event(
    conn: Connection,
    projection: Projection,
    event: RecordedEvent,
    error: str,
    attempts: int,
) -> bool:
    """Set ``event`` aside with its error and move the checkpoint past it.

    Returns whether it was parked: an event the checkpoint already covers was
    applied before, and is left alone.
    """
    checkpoint = await lock_checkpoint(conn, projection.checkpoint_name)
    if event.position <= checkpoint:
        return False
    await conn.execute(
        "INSERT INTO parked_messages (consumer, event_id, position, tenant_id, "
        "event_type, envelope, error, attempts) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (consumer, event_id) DO UPDATE SET error = excluded.error, "
        "attempts = parked_messages.attempts + excluded.attempts, "
        "replayed_at = NULL, parked_at = now()",
        (
            projection.name,
            event.event_id,
            event.position,
            event.tenant_id,
            event.event_type,
            Jsonb(event.to_envelope()),
            error[:4000],
            attempts,
        ),
    )
    await set_checkpoint(conn, projection.checkpoint_name, event.position)
    return True
