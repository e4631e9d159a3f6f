"""NATS JetStream: connection, the event stream, and subject naming.

Subjects are ``<prefix>.<tenant>.<context>.<event-type>``; the message body is the
event envelope as JSON, and headers carry ids that consumers restore into context.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from eaf.bus.errors import BusError, StreamMissingError
from eaf.eventstore.model import RecordedEvent
from eaf.eventstore.names import is_subject_token

log = structlog.get_logger(__name__)

HEADER_POSITION = "Eaf-Position"
HEADER_TENANT = "Eaf-Tenant"
HEADER_CORRELATION = "Eaf-Correlation-Id"
HEADER_CAUSATION = "Eaf-Causation-Id"
HEADER_ACTOR = "Eaf-Actor"
HEADER_ACTOR_TENANT = "Eaf-Actor-Tenant"
HEADER_ROLES = "Eaf-Actor-Roles"
HEADER_PERMISSIONS = "Eaf-Actor-Permissions"


def subject_for(prefix: str, event: RecordedEvent) -> str:
    tokens = (event.tenant_id, event.context_name, event.event_type)
    for token in tokens:
        if not is_subject_token(token):
            raise BusError(f"{token!r} cannot be a NATS subject token")
    return ".".join((prefix, *tokens))


@contextlib.contextmanager
def _bus_errors(action: str) -> Iterator[None]:
    """Turn any NATS failure inside the block into a ``BusError``."""
    try:
        yield
    except BusError:
        raise
    except Exception as exc:
        raise BusError(f"{action} failed: {exc!r}") from exc


def headers_for(event: RecordedEvent) -> dict[str, str]:
    headers = {
        "Nats-Msg-Id": str(event.event_id),
        HEADER_POSITION: str(event.position),
        HEADER_TENANT: event.tenant_id,
    }
    meta = event.metadata
    for header, key in (
        (HEADER_CORRELATION, "correlation_id"),
        (HEADER_CAUSATION, "causation_id"),
        (HEADER_ACTOR, "actor"),
        (HEADER_ACTOR_TENANT, "actor_tenant"),
        (HEADER_ROLES, "actor_roles"),
        (HEADER_PERMISSIONS, "actor_permissions"),
        ("traceparent", "traceparent"),
    ):
        if meta.get(key):
            headers[header] = str(meta[key])
    return headers


def encode_event(event: RecordedEvent) -> bytes:
    return json.dumps(event.to_envelope(), separators=(",", ":")).encode()


def decode_event(data: bytes) -> RecordedEvent:
    envelope: dict[str, Any] = json.loads(data)
    return RecordedEvent.from_envelope(envelope)


class NatsBus:
    """One NATS connection with JetStream, reconnecting for as long as it lives."""

    def __init__(
        self,
        servers: str,
        *,
        stream_name: str = "EAF",
        subject_prefix: str = "eaf",
        replicas: int = 1,
        duplicate_window_s: float = 120.0,
        name: str = "eaf",
        tls_ca: Path | None = None,
    ) -> None:
        self.servers = [url.strip() for url in servers.split(",") if url.strip()]
        self.stream_name = stream_name
        self.subject_prefix = subject_prefix
        self.replicas = replicas
        self.duplicate_window_s = duplicate_window_s
        self.name = name
        self.tls_ca = tls_ca
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._closing = False

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BusError("the bus is not connected")
        return self._js

    @property
    def nc(self) -> Client:
        if self._nc is None:
            raise BusError("the bus is not connected")
        return self._nc

    @property
    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self, timeout_s: float = 10.0) -> None:
        async def on_disconnect() -> None:
            if not self._closing:
                log.warning("bus.disconnected", servers=self.servers)

        async def on_reconnect() -> None:
            log.info("bus.reconnected", servers=self.servers)

        async def on_error(exc: Exception) -> None:
            log.debug("bus.error", error=str(exc))

        try:
            self._nc = await nats.connect(
                servers=self.servers,
                name=self.name,
                connect_timeout=timeout_s,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                allow_reconnect=True,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
                tls=self._tls_context(),
            )
        except Exception as exc:
            raise BusError(
                f"cannot connect to NATS at {', '.join(self.servers)}: {exc}; "
                "check EAF_NATS_URL and that the server runs with JetStream (-js)"
            ) from exc
        self._js = self._nc.jetstream(timeout=5.0)

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.tls_ca is None:
            return None
        return ssl.create_default_context(cafile=str(self.tls_ca))

    async def close(self) -> None:
        self._closing = True
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.drain()
            except Exception:  # noqa: BLE001 - closing a broken connection
                await self._nc.close()
        self._nc = None
        self._js = None

    async def ensure_stream(self) -> None:
        """Create the event stream, or bring its settings in line."""
        config = StreamConfig(
            name=self.stream_name,
            subjects=[f"{self.subject_prefix}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            num_replicas=self.replicas,
            duplicate_window=self.duplicate_window_s,
        )
        with _bus_errors(f"setting up stream {self.stream_name}"):
            try:
                await self.js.stream_info(self.stream_name)
            except NotFoundError:
                await self.js.add_stream(config)
                log.info("bus.stream_created", stream=self.stream_name)
                return
            await self.js.update_stream(config)

    async def is_ready(self) -> bool:
        if not self.is_connected:
            return False
        try:
            await self.js.stream_info(self.stream_name)
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
        return True

    async def last_published(self) -> tuple[int, int]:
        """Position of the newest event in the stream and the stream's last sequence.

        Raises:
            StreamMissingError: the stream does not exist (any more).
            BusError: NATS or JetStream did not answer.
        """
        with _bus_errors(f"reading the state of stream {self.stream_name}"):
            try:
                info = await self.js.stream_info(self.stream_name)
            except NotFoundError as exc:
                raise StreamMissingError(self.stream_name) from exc
            last_seq = int(info.state.last_seq or 0)
            if not last_seq:
                return 0, 0
            try:
                msg = await self.js.get_msg(self.stream_name, seq=last_seq)
            except NotFoundError:
                return 0, last_seq
        headers = msg.headers or {}
        return int(headers.get(HEADER_POSITION, "0")), last_seq

    async def publish_events(
        self,
        events: list[RecordedEvent],
        last_seq: int,
        ack_timeout_s: float = 10.0,
    ) -> int:
        """Publish in order, wait for every ack, return the stream's new last sequence.

        The relay is the stream's only writer, so each message can state the
        sequence the stream must be at (``Nats-Expected-Last-Sequence``): if some
        are lost in a reconnect, the later ones are refused instead of overtaking
        them, and JetStream holds events strictly in position order.
        """
        futures: list[asyncio.Future[Any]] = []
        try:
            with _bus_errors(f"publishing to {self.stream_name}"):
                for offset, event in enumerate(events):
                    headers = headers_for(event)
                    headers["Nats-Expected-Last-Sequence"] = str(last_seq + offset)
                    futures.append(
                        await self.js.publish_async(
                            subject_for(self.subject_prefix, event),
                            encode_event(event),
                            headers=headers,
                            stream=self.stream_name,
                        )
                    )
                acks = [
                    await asyncio.wait_for(future, timeout=ack_timeout_s)
                    for future in futures
                ]
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()
        if any(ack.duplicate for ack in acks):
            raise BusError("the stream already held some events; resynchronising")
        return int(acks[-1].seq)
