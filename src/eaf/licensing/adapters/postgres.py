"""License streams and seats in PostgreSQL, inside the caller's transaction.

The license aggregate records plain dataclass events; this adapter turns them
into event-store rows and back with :func:`event_to_payload` and
:func:`event_from_payload`. Loading reads through the caller's connection so a
command can lock the license, load it and append to it in one transaction
without taking a second pooled connection.
"""

from __future__ import annotations

from eaf.context import current_context
from eaf.db.pool import Connection
from eaf.eventstore.model import NO_STREAM, NewEvent, RecordedEvent
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing.domain.errors import SeatLimitExceededError
from eaf.licensing.domain.events import event_from_payload, event_to_payload
from eaf.licensing.domain.license import License

STREAM_TYPE = "licensing.license"

_READ_STREAM = (
    "SELECT position, event_id, tenant_id, stream_id, stream_type, "
    "stream_version, event_type, schema_version, payload, metadata, recorded_at "
    "FROM events WHERE tenant_id = %s AND stream_id = %s ORDER BY stream_version"
)


def stream_id_for(license_id: str) -> str:
    """The event stream of one license."""
    return f"license-{license_id}"


class LicenseRepository:
    """Loads and saves :class:`License` aggregates of one vendor tenant."""

    def __init__(self, store: PostgresEventStore, tenant_id: str) -> None:
        self.store = store
        self.tenant_id = tenant_id

    async def load_in(self, conn: Connection, license_id: str) -> License | None:
        """The license as of its stored events, or ``None`` if it has none."""
        cur = await conn.execute(
            _READ_STREAM, (self.tenant_id, stream_id_for(license_id))
        )
        rows = await cur.fetchall()
        if not rows:
            return None
        events = []
        for row in rows:
            recorded = self.store.upcasters.upcast(RecordedEvent(**row))
            events.append(event_from_payload(recorded.event_type, recorded.payload))
        return License.from_events(events)

    async def save_in(self, conn: Connection, license_: License) -> int:
        """Append the license's new events; call it last in the transaction.

        Returns the stream version after the append.
        """
        pending = license_.collect_events()
        if not pending:
            return license_.version
        metadata = current_context().metadata()
        new_events = [
            NewEvent(
                event_type=event.type,
                payload=event_to_payload(event),
                schema_version=event.schema_version,
                metadata=metadata,
            )
            for event in pending
        ]
        expected = license_.version - len(pending)
        recorded = await self.store.append(
            self.tenant_id,
            stream_id_for(license_.license_id),
            STREAM_TYPE,
            new_events,
            expected or NO_STREAM,
            conn=conn,
        )
        return recorded[-1].stream_version


class SeatLedger:
    """The seats of each license, counted under a row lock on the license.

    Every command on a license first locks its ``licensing_seat_limits`` row,
    so commands on one license run one after another and a seat count taken
    under the lock cannot be overtaken by a concurrent activation.
    """

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    async def open_license(
        self, conn: Connection, license_id: str, customer: str, max_seats: int | None
    ) -> bool:
        """Create the license's row; ``False`` if the license id is taken."""
        cur = await conn.execute(
            "INSERT INTO licensing_seat_limits (tenant_id, license_id, customer, "
            "max_seats) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (self.tenant_id, license_id, customer, max_seats),
        )
        return cur.rowcount == 1

    async def lock_license(self, conn: Connection, license_id: str) -> bool:
        """Lock the license's row until the transaction ends; ``False`` if absent."""
        cur = await conn.execute(
            "SELECT max_seats FROM licensing_seat_limits "
            "WHERE tenant_id = %s AND license_id = %s FOR UPDATE",
            (self.tenant_id, license_id),
        )
        return await cur.fetchone() is not None

    async def take_seat(
        self, conn: Connection, license_id: str, activation_id: str
    ) -> int:
        """Record a seat for ``activation_id``; return the seats now in use.

        Call with the license locked. The limit is checked here, against the
        rows that exist, not against what the caller believed before.

        Raises:
            SeatLimitExceededError: every seat is taken.
        """
        cur = await conn.execute(
            "SELECT l.max_seats, count(s.activation_id) AS used "
            "FROM licensing_seat_limits l LEFT JOIN licensing_seats s "
            "ON s.tenant_id = l.tenant_id AND s.license_id = l.license_id "
            "WHERE l.tenant_id = %s AND l.license_id = %s GROUP BY l.max_seats",
            (self.tenant_id, license_id),
        )
        row = await cur.fetchone()
        used = int(row["used"]) if row else 0
        max_seats = row["max_seats"] if row else 0
        if max_seats is not None and used >= max_seats:
            raise SeatLimitExceededError(
                f"license {license_id} has no free seat ({used} of {max_seats} used)",
                license_id=license_id,
                seats=max_seats,
            )
        await conn.execute(
            "INSERT INTO licensing_seats (tenant_id, license_id, activation_id, "
            "activated_at) VALUES (%s, %s, %s, now())",
            (self.tenant_id, license_id, activation_id),
        )
        return used + 1

    async def free_seat(
        self, conn: Connection, license_id: str, activation_id: str
    ) -> None:
        """Give the seat of ``activation_id`` back."""
        await conn.execute(
            "DELETE FROM licensing_seats WHERE tenant_id = %s AND license_id = %s "
            "AND activation_id = %s",
            (self.tenant_id, license_id, activation_id),
        )

    async def seats_in_use(self, conn: Connection, license_id: str) -> int:
        """How many seats of the license are taken."""
        cur = await conn.execute(
            "SELECT count(*) AS used FROM licensing_seats "
            "WHERE tenant_id = %s AND license_id = %s",
            (self.tenant_id, license_id),
        )
        row = await cur.fetchone()
        return int(row["used"]) if row else 0
