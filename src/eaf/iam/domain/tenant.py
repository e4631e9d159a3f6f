"""The tenant aggregate: a customer organisation and its own OpenID issuer."""

from __future__ import annotations

from typing import Any, Self

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.errors import AlreadyExistsError
from eaf.iam.domain.rules import (
    InvalidInputError,
    InvalidStateError,
    check_slug,
    check_text,
)

ACTIVE = "active"
SUSPENDED = "suspended"


class TenantCreated(DomainEvent):
    slug: str
    name: str


class TenantRenamed(DomainEvent):
    name: str


class TenantSuspended(DomainEvent):
    reason: str


class TenantReactivated(DomainEvent):
    pass


class SigningKeyRotated(DomainEvent):
    kid: str
    retired_kids: list[str]


def _clean_name(name: str, fallback: str) -> str:
    cleaned = " ".join(check_text(name, "name", "a tenant name").split())[:200]
    return cleaned or fallback


class Tenant(Aggregate):
    """A tenant is active or suspended; a suspended one has no working logins."""

    stream_type = "iam.tenant"
    event_types = (
        TenantCreated,
        TenantRenamed,
        TenantSuspended,
        TenantReactivated,
        SigningKeyRotated,
    )

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.name = ""
        self.status = "new"

    @classmethod
    def create(cls, slug: str, name: str) -> Tenant:
        """A new tenant named ``name`` (the slug if blank)."""
        tenant = cls(check_slug(slug))
        tenant.record(TenantCreated(slug=slug, name=_clean_name(name, slug)))
        return tenant

    def rename(self, name: str) -> None:
        """Change the display name."""
        cleaned = _clean_name(name, "")
        if not cleaned:
            raise InvalidInputError("a tenant name cannot be empty", field="name")
        if cleaned != self.name:
            self.record(TenantRenamed(name=cleaned))

    def suspend(self, reason: str, *, is_platform_tenant: bool) -> None:
        """Suspend an active tenant; never the platform tenant."""
        if is_platform_tenant:
            raise InvalidStateError(
                f"the platform tenant {self.id!r} cannot be suspended", slug=self.id
            )
        if self.status != ACTIVE:
            raise InvalidStateError(f"tenant {self.id!r} is not active", slug=self.id)
        cleaned = check_text(reason, "reason", "a suspension reason")
        self.record(TenantSuspended(reason=cleaned.strip()[:500]))

    def reactivate(self) -> None:
        """Reactivate a suspended tenant."""
        if self.status != SUSPENDED:
            raise InvalidStateError(
                f"tenant {self.id!r} is not suspended", slug=self.id
            )
        self.record(TenantReactivated())

    def record_key_rotation(self, kid: str, retired_kids: list[str]) -> None:
        """Record that ``kid`` replaced ``retired_kids``."""
        self.record(SigningKeyRotated(kid=kid, retired_kids=retired_kids))

    def apply(self, event: DomainEvent) -> None:
        match event:
            case TenantCreated(name=name):
                if self.status != "new":
                    raise AlreadyExistsError(f"tenant {self.id!r} already exists")
                self.name = name
                self.status = ACTIVE
            case TenantRenamed(name=name):
                self.name = name
            case TenantSuspended():
                self.status = SUSPENDED
            case TenantReactivated():
                self.status = ACTIVE

    def snapshot_state(self) -> dict[str, Any] | None:
        return {"name": self.name, "status": self.status}

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        tenant = cls(aggregate_id)
        tenant.name = state["name"]
        tenant.status = state["status"]
        return tenant
