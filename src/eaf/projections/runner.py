"""Running a projection as a durable JetStream pull consumer.

Messages are handled one by one in stream order. A handler error is retried a
bounded number of times, then the event is parked with its error and the
consumer goes on. An infrastructure error (PostgreSQL down) is not the event's
fault: the same message is retried until the server is back, never parked.

A message that kills or hangs the process never raises at all; JetStream
redelivers it once ``ack_wait`` passes. Its delivery count is the only trace,
so a message delivered ``max_deliver`` times is parked without being applied.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
import structlog
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Gauge

from eaf.bus.nats import NatsBus, decode_event
from eaf.context import ExecutionContext, use_context
from eaf.db.pool import Database
from eaf.errors import InfrastructureError
from eaf.eventstore.model import RecordedEvent
from eaf.projections.base import Projection
from eaf.projections.checkpoints import apply_once, park_event

log = structlog.get_logger(__name__)

APPLIED = Counter("eaf_projection_applied_events", "Events applied", ["projection"])
PARKED = Counter("eaf_projection_parked_events", "Events parked", ["projection"])
POSITION = Gauge("eaf_projection_position", "Last position applied", ["projection"])

PARK_MARGIN = 2

_INFRA_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, InfrastructureError)


def context_of(event: RecordedEvent) -> ExecutionContext:
    return ExecutionContext.from_metadata(
        event.tenant_id, event.metadata, str(event.event_id)
    )


class ProjectionRunner:
    """Feeds one projection from its durable consumer until stopped."""

    def __init__(
        self,
        db: Database,
        bus: NatsBus,
        projection: Projection,
        *,
        max_attempts: int = 5,
        max_deliver: int = 10,
        ack_wait_s: float = 30.0,
        retry_delay_s: float = 0.05,
    ) -> None:
        if max_deliver < 2:
            raise ValueError("max_deliver must be at least 2: one try, one to park")
        self.db = db
        self.bus = bus
        self.projection = projection
        self.max_attempts = max_attempts
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.retry_delay_s = retry_delay_s
        self.is_healthy = False
        self.last_error: str | None = None

    @property
    def durable_name(self) -> str:
        return f"projection-{self.projection.name}"

    def consumer_config(self) -> ConsumerConfig:
        prefix = self.bus.subject_prefix
        return ConsumerConfig(
            durable_name=self.durable_name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            # The server gives up a little after the runner parks, so that a
            # parking cut short by a crash still gets its turn.
            max_deliver=self.max_deliver + PARK_MARGIN,
            # One message in flight at a time. JetStream redelivers unacked
            # messages in no set order, and one applied ahead of an older one
            # moves the checkpoint past it. A crash also counts a delivery
            # only against the message that caused it.
            # TODO: prefetch with a reorder buffer; one fetch per event costs
            # a round trip each.
            max_ack_pending=1,
            filter_subjects=[f"{prefix}.*.{ctx}.>" for ctx in self.projection.contexts],
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception as exc:  # noqa: BLE001 - keep the consumer alive
                self.is_healthy = False
                self.last_error = str(exc)
                log.warning(
                    "projection.interrupted",
                    projection=self.projection.name,
                    error=repr(exc),
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        await self.bus.js.add_consumer(self.bus.stream_name, self.consumer_config())
        sub = await self.bus.js.pull_subscribe_bind(
            self.durable_name, stream=self.bus.stream_name
        )
        try:
            self.is_healthy = True
            while not stop.is_set():
                try:
                    messages = await sub.fetch(1, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue
                for message in messages:
                    if stop.is_set():
                        return
                    await self._handle(message, stop)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _handle(self, message: Any, stop: asyncio.Event) -> None:
        event = decode_event(message.data)
        deliveries = int(message.metadata.num_delivered)
        with use_context(context_of(event)):
            if deliveries >= self.max_deliver:
                error = (
                    f"delivered {deliveries} times without an acknowledgement: "
                    "handling it crashed or hung the consumer; not applied"
                )
                done = await self._park(event, error, deliveries, stop)
            else:
                done = await self._apply_with_retries(event, message, stop)
        if done:
            await message.ack()

    async def _apply_with_retries(
        self, event: RecordedEvent, message: Any, stop: asyncio.Event
    ) -> bool:
        attempts = 0
        delay_s = self.retry_delay_s
        while not stop.is_set():
            try:
                async with self.db.transaction(event.tenant_id) as conn:
                    if await apply_once(conn, self.projection, event):
                        APPLIED.labels(self.projection.name).inc()
                POSITION.labels(self.projection.name).set(event.position)
                return True
            except _INFRA_ERRORS as exc:
                log.warning("projection.db_unavailable", error=str(exc))
                with contextlib.suppress(Exception):
                    await message.in_progress()
                await asyncio.sleep(min(delay_s, 1.0))
                delay_s *= 2
            except Exception as exc:  # noqa: BLE001 - a handler failure
                attempts += 1
                if attempts >= self.max_attempts:
                    error = f"{type(exc).__name__}: {exc}"
                    return await self._park(event, error, attempts, stop)
                await asyncio.sleep(self.retry_delay_s * attempts)
        return False

    async def _park(
        self, event: RecordedEvent, error: str, attempts: int, stop: asyncio.Event
    ) -> bool:
        """Park ``event``; False only if stopped before the database took it."""
        while True:
            try:
                async with self.db.transaction(event.tenant_id) as conn:
                    parked = await park_event(
                        conn, self.projection, event, error, attempts
                    )
                break
            except _INFRA_ERRORS:
                if stop.is_set():
                    return False
                await asyncio.sleep(0.5)
        if not parked:
            return True
        PARKED.labels(self.projection.name).inc()
        log.error(
            "projection.event_parked",
            projection=self.projection.name,
            event_id=str(event.event_id),
            position=event.position,
            attempts=attempts,
            error=error,
        )
        return True
