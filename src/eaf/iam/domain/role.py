"""Custom roles: named sets of permissions defined by each tenant."""

from __future__ import annotations

from typing import Any, Self

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.errors import AlreadyExistsError, NotFoundError
from eaf.iam.domain.rules import check_permissions, check_role_name, check_text


class RoleDefined(DomainEvent):
    name: str
    description: str
    permissions: list[str]


class RolePermissionsChanged(DomainEvent):
    permissions: list[str]


class RoleDeleted(DomainEvent):
    pass


class Role(Aggregate):
    """A tenant's custom role; its id is its name, unique within the tenant."""

    stream_type = "iam.role"
    event_types = (RoleDefined, RolePermissionsChanged, RoleDeleted)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.description = ""
        self.permissions: list[str] = []
        self.is_defined = False

    def define(self, description: str, permissions: list[str]) -> None:
        """Define the role; a deleted role's name may be defined again."""
        if self.is_defined:
            raise AlreadyExistsError(f"role {self.id!r} already exists", role=self.id)
        self.record(
            RoleDefined(
                name=check_role_name(self.id),
                description=check_text(description, "description").strip()[:500],
                permissions=check_permissions(permissions),
            )
        )

    def change_permissions(self, permissions: list[str]) -> bool:
        """Replace the permissions; return whether they changed."""
        self._require_defined()
        checked = check_permissions(permissions)
        if checked == self.permissions:
            return False
        self.record(RolePermissionsChanged(permissions=checked))
        return True

    def delete(self) -> None:
        """Delete the role; users keep its name, which then grants nothing."""
        self._require_defined()
        self.record(RoleDeleted())

    def _require_defined(self) -> None:
        if not self.is_defined:
            raise NotFoundError(f"role {self.id!r} not found", role=self.id)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case RoleDefined(description=description, permissions=permissions):
                self.description = description
                self.permissions = list(permissions)
                self.is_defined = True
            case RolePermissionsChanged(permissions=permissions):
                self.permissions = list(permissions)
            case RoleDeleted():
                self.permissions = []
                self.is_defined = False

    def snapshot_state(self) -> dict[str, Any] | None:
        return {
            "description": self.description,
            "permissions": self.permissions,
            "is_defined": self.is_defined,
        }

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        role = cls(aggregate_id)
        role.description = state["description"]
        role.permissions = list(state["permissions"])
        role.is_defined = state["is_defined"]
        return role
