"""Request-scoped context: who acts, for which tenant, under which correlation.

The context lives in a contextvar so that it follows a unit of work through
``await`` points without being passed by hand. Command handlers copy it into event
metadata; the relay copies metadata into NATS headers; consumers restore it.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import structlog


@dataclass(frozen=True)
class ExecutionContext:
    """Tenant, actor and tracing ids of the current unit of work."""

    tenant_id: str | None = None
    actor: str | None = None
    actor_tenant: str | None = None
    """The tenant the actor belongs to; differs from ``tenant_id`` when a
    superadmin of the platform tenant acts on another tenant."""
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None
    traceparent: str | None = None

    def with_tenant(self, tenant_id: str) -> ExecutionContext:
        return replace(self, tenant_id=tenant_id)

    def has_permission(self, permission: str) -> bool:
        if "superadmin" in self.roles or "*" in self.permissions:
            return True
        prefix = permission.split(":", 1)[0]
        return permission in self.permissions or f"{prefix}:*" in self.permissions

    @property
    def subject(self) -> str | None:
        """The authenticated principal (the token's ``sub``), alias of ``actor``."""
        return self.actor

    def metadata(self) -> dict[str, str]:
        """The fields written into every event's metadata."""
        fields = {
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "actor": self.actor,
            "actor_tenant": self.actor_tenant,
            "actor_roles": ",".join(sorted(self.roles)) or None,
            "actor_permissions": ",".join(sorted(self.permissions)) or None,
            "traceparent": self.traceparent,
        }
        return {key: value for key, value in fields.items() if value is not None}

    @classmethod
    def from_metadata(
        cls, tenant_id: str, metadata: dict[str, str], causation_id: str
    ) -> ExecutionContext:
        """The context an event was recorded in, for whoever handles the event."""

        def names(key: str) -> frozenset[str]:
            return frozenset(item for item in metadata.get(key, "").split(",") if item)

        return cls(
            tenant_id=tenant_id,
            actor=metadata.get("actor"),
            actor_tenant=metadata.get("actor_tenant"),
            roles=names("actor_roles"),
            permissions=names("actor_permissions"),
            correlation_id=metadata.get("correlation_id") or causation_id,
            causation_id=causation_id,
            traceparent=metadata.get("traceparent"),
        )


_current: contextvars.ContextVar[ExecutionContext | None] = contextvars.ContextVar(
    "eaf_execution_context", default=None
)


def current_context() -> ExecutionContext:
    """The active context, or an anonymous one with a fresh correlation id."""
    return _current.get() or ExecutionContext()


@contextlib.contextmanager
def use_context(context: ExecutionContext) -> Iterator[ExecutionContext]:
    """Make ``context`` current and bind its ids to every log line inside."""
    token = _current.set(context)
    log_fields = {
        "tenant_id": context.tenant_id,
        "correlation_id": context.correlation_id,
        "causation_id": context.causation_id,
        "actor": context.actor,
    }
    with structlog.contextvars.bound_contextvars(
        **{key: value for key, value in log_fields.items() if value is not None}
    ):
        try:
            yield context
        finally:
            _current.reset(token)
