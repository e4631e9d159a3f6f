"""Read models of licensing, fed from its events: the catalog and licenses.

Listings read these tables; single items are loaded from their streams, so
what a command just changed is visible there at once.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from eaf.db.pool import Connection
from eaf.eventstore.model import RecordedEvent
from eaf.licensing.domain.policy import Policy
from eaf.projections.base import Projection

_LICENSE_STATES = {
    "LicenseSuspended": "suspended",
    "LicenseReinstated": "active",
    "LicenseRevoked": "revoked",
}
_SEAT_CHANGES = {"MachineActivated": 1, "MachineDeactivated": -1}


class CatalogProjection(Projection):
    """``licensing_products`` and ``licensing_policies``."""

    name = "licensing-catalog"
    contexts = ("licensing",)
    tables = ("licensing_products", "licensing_policies")

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        """Insert or update the product or policy the event is about."""
        data = event.payload
        match event.event_type:
            case "ProductCreated":
                await conn.execute(
                    "INSERT INTO licensing_products (tenant_id, name, display_name, "
                    "status, created_at, position) "
                    "VALUES (%s, %s, %s, 'active', %s, %s) "
                    "ON CONFLICT (tenant_id, name) DO NOTHING",
                    (
                        event.tenant_id,
                        data["name"],
                        data["display_name"],
                        event.recorded_at,
                        event.position,
                    ),
                )
            case "ProductArchived":
                await conn.execute(
                    "UPDATE licensing_products SET status = 'archived', position = %s "
                    "WHERE tenant_id = %s AND name = %s",
                    (event.position, event.tenant_id, data["name"]),
                )
            case "PolicyCreated":
                await conn.execute(
                    "INSERT INTO licensing_policies (tenant_id, policy_id, product, "
                    "terms, status, created_at, position) "
                    "VALUES (%s, %s, %s, %s, 'active', %s, %s) "
                    "ON CONFLICT (tenant_id, policy_id) DO NOTHING",
                    (
                        event.tenant_id,
                        data["policy_id"],
                        data["product"],
                        Jsonb(data["terms"]),
                        event.recorded_at,
                        event.position,
                    ),
                )
            case "PolicyArchived":
                await conn.execute(
                    "UPDATE licensing_policies SET status = 'archived', position = %s "
                    "WHERE tenant_id = %s AND policy_id = %s",
                    (event.position, event.tenant_id, data["policy_id"]),
                )


class LicensesProjection(Projection):
    """``licensing_licenses``: one row per license, with its seat count."""

    name = "licensing-licenses"
    contexts = ("licensing",)
    tables = ("licensing_licenses",)

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        """Insert the license, or update its state, expiry or seats."""
        data = event.payload
        kind = event.event_type
        if kind == "LicenseIssued":
            await self._insert(conn, event)
        elif kind == "LicenseRenewed":
            await self._update(conn, event, "expires_at = %s", data["expires_at"])
        elif kind in _LICENSE_STATES:
            await self._update(conn, event, "state = %s", _LICENSE_STATES[kind])
        elif kind in _SEAT_CHANGES:
            change = _SEAT_CHANGES[kind]
            await self._update(conn, event, "seats_used = seats_used + %s", change)

    async def _insert(self, conn: Connection, event: RecordedEvent) -> None:
        data = event.payload
        policy = Policy.from_dict(data["policy"])
        await conn.execute(
            "INSERT INTO licensing_licenses (tenant_id, license_id, customer, "
            "product, policy_id, state, issued_at, expires_at, grace_days, "
            "max_seats, seats_used, updated_at, position) "
            "VALUES (%s, %s, %s, %s, %s, 'active', %s, %s, %s, %s, 0, %s, %s) "
            "ON CONFLICT (tenant_id, license_id) DO NOTHING",
            (
                event.tenant_id,
                data["license_id"],
                data["customer"],
                data["product"],
                policy.name,
                data["occurred_at"],
                data["expires_at"],
                policy.grace_days,
                policy.max_machines,
                event.recorded_at,
                event.position,
            ),
        )

    async def _update(
        self, conn: Connection, event: RecordedEvent, assignment: str, value: object
    ) -> None:
        await conn.execute(
            f"UPDATE licensing_licenses SET {assignment}, "  # noqa: S608 - fixed text
            "updated_at = %s, position = %s WHERE tenant_id = %s AND license_id = %s",
            (
                value,
                event.recorded_at,
                event.position,
                event.tenant_id,
                event.payload["license_id"],
            ),
        )


def licensing_projections() -> list[Projection]:
    """Every projection of the licensing service."""
    return [CatalogProjection(), LicensesProjection()]
