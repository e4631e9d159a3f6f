"""Read models of IAM, fed from its events."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from eaf.db.pool import Connection
from eaf.eventstore.model import RecordedEvent
from eaf.projections.base import Projection


class UsersProjection(Projection):
    """``iam_users``: one row per user, for listings and lookups."""

    name = "iam-users"
    contexts = ("iam",)
    tables = ("iam_users",)

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        if event.event_type != "UserRegistered":
            return
        data = event.payload
        await conn.execute(
            "INSERT INTO iam_users (tenant_id, user_id, username, email, roles, "
            "status, created_at, position) "
            "VALUES (%s, %s, %s, %s, %s, 'active', %s, %s) "
            "ON CONFLICT (tenant_id, user_id) DO NOTHING",
            (
                event.tenant_id,
                data["user_id"],
                data["username"],
                data["email"],
                Jsonb(data["roles"]),
                event.recorded_at,
                event.position,
            ),
        )
