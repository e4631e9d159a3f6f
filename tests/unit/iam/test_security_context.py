"""The security context travels through event metadata and NATS headers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eaf.bus.nats import (
    HEADER_ACTOR,
    HEADER_ACTOR_TENANT,
    HEADER_PERMISSIONS,
    HEADER_ROLES,
    headers_for,
)
from eaf.context import ExecutionContext
from eaf.eventstore.model import RecordedEvent
from eaf.projections.runner import context_of


def recorded(metadata: dict[str, str]) -> RecordedEvent:
    return RecordedEvent(
        position=7,
        event_id=uuid.uuid4(),
        tenant_id="acme",
        stream_id="role-viewer",
        stream_type="iam.role",
        stream_version=1,
        event_type="RoleDefined",
        schema_version=1,
        payload={},
        metadata=metadata,
        recorded_at=datetime.now(UTC),
    )


def test_context_survives_metadata_headers_and_restoration() -> None:
    context = ExecutionContext(
        tenant_id="acme",
        actor="user-1",
        actor_tenant="default",
        roles=frozenset({"superadmin", "tenant_admin"}),
        permissions=frozenset({"*"}),
    )
    event = recorded(context.metadata())

    headers = headers_for(event)
    restored = context_of(event)

    assert headers[HEADER_ACTOR] == "user-1"
    assert headers[HEADER_ACTOR_TENANT] == "default"
    assert headers[HEADER_ROLES] == "superadmin,tenant_admin"
    assert headers[HEADER_PERMISSIONS] == "*"
    assert (restored.actor, restored.actor_tenant) == ("user-1", "default")
    assert restored.roles == context.roles
    assert restored.permissions == context.permissions
    assert restored.correlation_id == context.correlation_id


def test_anonymous_context_adds_no_actor_fields() -> None:
    metadata = ExecutionContext().metadata()

    assert set(metadata) == {"correlation_id"}
