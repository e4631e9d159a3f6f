"""The tenant aggregate: a customer organisation and its own OpenID issuer."""

from __future__ import annotations

from typing import Any, Self

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.errors import AlreadyExistsError
from eaf.iam.domain.rules import check_slug


class TenantCreated(DomainEvent):
    slug: str
    name: str


class Tenant(Aggregate):
    stream_type = "iam.tenant"
    event_types = (TenantCreated,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.name = ""
        self.status = "new"

    @classmethod
    def create(cls, slug: str, name: str) -> Tenant:
        tenant = cls(check_slug(slug))
        cleaned = name.strip()
        if not cleaned:
            cleaned = slug
        tenant.record(TenantCreated(slug=slug, name=cleaned[:200]))
        return tenant

    def apply(self, event: DomainEvent) -> None:
        match event:
            case TenantCreated(name=name):
                if self.status != "new":
                    raise AlreadyExistsError(f"tenant {self.id!r} already exists")
                self.name = name
                self.status = "active"

    def snapshot_state(self) -> dict[str, Any] | None:
        return {"name": self.name, "status": self.status}

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        tenant = cls(aggregate_id)
        tenant.name = state["name"]
        tenant.status = state["status"]
        return tenant
