"""The relay: committed events from the event store to JetStream, in order.

One relay is active per database: it holds a session-level advisory lock on a
dedicated connection and does all its reads and checkpoint writes on that same
connection, so a relay that lost its lock (connection gone) cannot advance the
checkpoint. Others stand by and take over when the lock frees.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import structlog
from prometheus_client import Counter, Gauge
from psycopg.rows import dict_row

from eaf.bus.errors import BusError, StreamMissingError
from eaf.bus.nats import NatsBus
from eaf.db.pool import Connection
from eaf.eventstore.postgres import APPENDED_CHANNEL, PostgresEventStore

log = structlog.get_logger(__name__)

RELAY_LOCK_KEY = 0x4541465F52454C59  # "EAF_RELY"

PUBLISHED = Counter("eaf_relay_published_events", "Events the relay published")
RELAY_POSITION = Gauge("eaf_relay_position", "Last position the relay published")
RELAY_INTERRUPTIONS = Counter(
    "eaf_relay_interruptions", "Times the relay lost a server and started over"
)
RELAY_ACTIVE = Gauge("eaf_relay_active", "1 while this process holds the relay lock")


class Relay:
    """Publishes events after the checkpoint, then advances it once acked."""

    def __init__(
        self,
        dsn: str,
        store: PostgresEventStore,
        bus: NatsBus,
        *,
        name: str = "relay",
        batch_size: int = 500,
        idle_wait_s: float = 0.5,
        checkpoint_delay_s: float = 0.0,
    ) -> None:
        self.dsn = dsn
        self.store = store
        self.bus = bus
        self.checkpoint_name = name
        self.batch_size = batch_size
        self.idle_wait_s = idle_wait_s
        # Widens the window between publish and checkpoint for crash drills.
        self.checkpoint_delay_s = checkpoint_delay_s
        self.is_active = False
        self.is_healthy = False
        self.position = 0
        self.last_error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, recovering from server outages by itself."""
        backoff_s = 0.2
        while not stop.is_set():
            try:
                await self._hold_lock_and_publish(stop)
                backoff_s = 0.2
            except (psycopg.Error, BusError, OSError) as exc:
                self._interrupted(exc)
                log.warning("relay.interrupted", error=str(exc), retry_in_s=backoff_s)
            except Exception as exc:  # noqa: BLE001 - the relay must not die
                self._interrupted(exc)
                log.exception("relay.failed", error=repr(exc), retry_in_s=backoff_s)
            finally:
                self._set_active(False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff_s)
            backoff_s = min(backoff_s * 2, 3.0)

    def _interrupted(self, exc: Exception) -> None:
        self.is_healthy = False
        self.last_error = f"{type(exc).__name__}: {exc}"
        RELAY_INTERRUPTIONS.inc()

    def _set_active(self, active: bool) -> None:
        self.is_active = active
        RELAY_ACTIVE.set(1 if active else 0)

    async def _hold_lock_and_publish(self, stop: asyncio.Event) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, row_factory=dict_row
        )
        async with conn:
            while not stop.is_set():
                cur = await conn.execute(
                    "SELECT pg_try_advisory_lock(%s) AS locked", (RELAY_LOCK_KEY,)
                )
                row = await cur.fetchone()
                if row and row["locked"]:
                    break
                self.is_healthy = True  # standing by is a healthy state
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
            if stop.is_set():
                return
            await conn.execute(f"LISTEN {APPENDED_CHANNEL}")
            self._set_active(True)
            log.info("relay.active", checkpoint=self.checkpoint_name)
            await self._publish_loop(conn, stop)

    async def _start_position(self, conn: Connection) -> tuple[int, int]:
        await conn.execute(
            "INSERT INTO checkpoints (name, position) VALUES (%s, 0) "
            "ON CONFLICT (name) DO NOTHING",
            (self.checkpoint_name,),
        )
        cur = await conn.execute(
            "SELECT position FROM checkpoints WHERE name = %s", (self.checkpoint_name,)
        )
        row = await cur.fetchone()
        checkpoint = int(row["position"]) if row else 0
        # The stream is the truth of what was published: after a crash between
        # publish and checkpoint, start behind the last event the stream holds.
        stream_position, last_seq = await self._last_published()
        if stream_position > checkpoint:
            log.info(
                "relay.checkpoint_behind_stream",
                checkpoint=checkpoint,
                stream_position=stream_position,
            )
        if stream_position >= checkpoint:
            return stream_position, last_seq
        if checkpoint > 0 and last_seq == 0:
            log.warning("relay.stream_empty", checkpoint=checkpoint)
        return checkpoint, last_seq

    async def _last_published(self) -> tuple[int, int]:
        try:
            return await self.bus.last_published()
        except StreamMissingError:
            log.warning("relay.stream_missing", stream=self.bus.stream_name)
        await self.bus.ensure_stream()
        return await self.bus.last_published()

    async def _wait_for_appends(self, conn: Connection) -> None:
        """Sleep until an append commits, or ``idle_wait_s`` passes.

        Notifications that arrived while publishing are all consumed here at
        once, so a backlog of them costs one extra read, not one per append.
        """
        async for _ in conn.notifies(timeout=self.idle_wait_s, stop_after=1):
            pass

    async def _publish_loop(self, conn: Connection, stop: asyncio.Event) -> None:
        position, last_seq = await self._start_position(conn)
        self.position = position
        self.is_healthy = True
        while not stop.is_set():
            events = await self.store.read_all_in(conn, position, self.batch_size)
            if not events:
                await self._wait_for_appends(conn)
                continue
            last_seq = await self.bus.publish_events(events, last_seq)
            position = events[-1].position
            if self.checkpoint_delay_s:
                await asyncio.sleep(self.checkpoint_delay_s)
            await conn.execute(
                "UPDATE checkpoints SET position = %s, updated_at = now() "
                "WHERE name = %s",
                (position, self.checkpoint_name),
            )
            self.position = position
            PUBLISHED.inc(len(events))
            RELAY_POSITION.set(position)
