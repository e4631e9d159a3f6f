"""Read models of IAM, fed from its events."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from eaf.db.pool import Connection
from eaf.eventstore.model import RecordedEvent
from eaf.projections.base import Projection

_USER_PREFIX = "user-"

# Event type -> (SET clause, payload fields in order); the user is the stream.
_UPDATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "UserProfileUpdated": (
        "username = %s, email = %s, display_name = %s",
        ("username", "email", "display_name"),
    ),
    "UserDeactivated": ("status = 'inactive'", ()),
    "UserActivated": ("status = 'active'", ()),
    "UserRoleAssigned": (
        "roles = CASE WHEN roles ? %s THEN roles "
        "ELSE roles || jsonb_build_array(%s) END",
        ("role", "role"),
    ),
    "UserRoleRevoked": ("roles = roles - %s", ("role",)),
}


class UsersProjection(Projection):
    """``iam_users``: one row per user, for listings and lookups."""

    name = "iam-users"
    contexts = ("iam",)
    tables = ("iam_users",)

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        """Insert or update the user's row; other events are ignored."""
        if event.event_type == "UserRegistered":
            await self._insert(conn, event)
            return
        update = _UPDATES.get(event.event_type)
        if update is None or not event.stream_id.startswith(_USER_PREFIX):
            return
        assignments, fields = update
        values: list[Any] = [event.payload[field] for field in fields]
        user_id = event.stream_id.removeprefix(_USER_PREFIX)
        await conn.execute(
            f"UPDATE iam_users SET {assignments}, position = %s "  # noqa: S608 - fixed clauses
            "WHERE tenant_id = %s AND user_id = %s AND position < %s",
            (*values, event.position, event.tenant_id, user_id, event.position),
        )

    async def _insert(self, conn: Connection, event: RecordedEvent) -> None:
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
