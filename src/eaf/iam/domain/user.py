"""The user aggregate: an identity within one tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.iam.domain.rules import (
    InvalidStateError,
    check_display_name,
    check_email,
    check_username,
)

ACTIVE = "active"
INACTIVE = "inactive"

PasswordChange = Literal["self", "admin", "reset"]


class UserRegistered(DomainEvent):
    user_id: str
    username: str
    email: str
    roles: list[str]


class UserProfileUpdated(DomainEvent):
    username: str
    email: str
    display_name: str


class UserDeactivated(DomainEvent):
    pass


class UserActivated(DomainEvent):
    pass


class UserRoleAssigned(DomainEvent):
    role: str


class UserRoleRevoked(DomainEvent):
    role: str


class UserPasswordChanged(DomainEvent):
    """A new password was set; the hash itself never enters an event."""

    method: PasswordChange


class PasswordResetRequested(DomainEvent):
    expires_at: datetime


class UserLockedOut(DomainEvent):
    failures: int
    locked_until: datetime


class RefreshTokenReuseDetected(DomainEvent):
    family_id: str
    client_id: str


class User(Aggregate):
    """Profile, roles and status of a person who can log in."""

    stream_type = "iam.user"
    snapshot_version = 2
    event_types = (
        UserRegistered,
        UserProfileUpdated,
        UserDeactivated,
        UserActivated,
        UserRoleAssigned,
        UserRoleRevoked,
        UserPasswordChanged,
        PasswordResetRequested,
        UserLockedOut,
        RefreshTokenReuseDetected,
    )

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.username = ""
        self.email = ""
        self.display_name = ""
        self.roles: list[str] = []
        self.status = "new"

    @property
    def is_active(self) -> bool:
        """Whether the user may log in."""
        return self.status == ACTIVE

    @classmethod
    def register(
        cls, user_id: str, username: str, email: str, roles: list[str]
    ) -> User:
        """A new active user."""
        user = cls(user_id)
        user.record(
            UserRegistered(
                user_id=user_id,
                username=check_username(username),
                email=check_email(email),
                roles=roles,
            )
        )
        return user

    def update_profile(
        self,
        *,
        username: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
    ) -> bool:
        """Record the changed profile; return whether anything changed."""
        new_username = check_username(username) if username else self.username
        new_email = check_email(email) if email else self.email
        new_display = (
            check_display_name(display_name)
            if display_name is not None
            else self.display_name
        )
        if (new_username, new_email, new_display) == (
            self.username,
            self.email,
            self.display_name,
        ):
            return False
        self.record(
            UserProfileUpdated(
                username=new_username, email=new_email, display_name=new_display
            )
        )
        return True

    def deactivate(self) -> None:
        """Refuse the user's logins from now on."""
        if self.status != ACTIVE:
            raise InvalidStateError(f"user {self.id!r} is not active")
        self.record(UserDeactivated())

    def activate(self) -> None:
        """Let a deactivated user log in again."""
        if self.status != INACTIVE:
            raise InvalidStateError(f"user {self.id!r} is not inactive")
        self.record(UserActivated())

    def assign_role(self, role: str) -> bool:
        """Add ``role``; return whether it was new."""
        if role in self.roles:
            return False
        self.record(UserRoleAssigned(role=role))
        return True

    def revoke_role(self, role: str) -> bool:
        """Remove ``role``; return whether the user had it."""
        if role not in self.roles:
            return False
        self.record(UserRoleRevoked(role=role))
        return True

    def change_password(self, method: PasswordChange) -> None:
        """Record a password change made by ``method``."""
        self.record(UserPasswordChanged(method=method))

    def request_password_reset(self, expires_at: datetime) -> None:
        """Record that a reset link was sent."""
        self.record(PasswordResetRequested(expires_at=expires_at))

    def lock_out(self, failures: int, locked_until: datetime) -> None:
        """Record a temporary lockout after failed logins."""
        self.record(UserLockedOut(failures=failures, locked_until=locked_until))

    def detect_refresh_reuse(self, family_id: str, client_id: str) -> None:
        """Record that a replaced refresh token came back."""
        self.record(RefreshTokenReuseDetected(family_id=family_id, client_id=client_id))

    def apply(self, event: DomainEvent) -> None:
        match event:
            case UserRegistered(username=username, email=email, roles=roles):
                self.username = username
                self.email = email
                self.roles = list(roles)
                self.status = ACTIVE
            case UserProfileUpdated():
                self.username = event.username
                self.email = event.email
                self.display_name = event.display_name
            case UserDeactivated():
                self.status = INACTIVE
            case UserActivated():
                self.status = ACTIVE
            case UserRoleAssigned(role=role):
                self.roles = sorted({*self.roles, role})
            case UserRoleRevoked(role=role):
                self.roles = [item for item in self.roles if item != role]

    def snapshot_state(self) -> dict[str, Any] | None:
        return {
            "username": self.username,
            "email": self.email,
            "display_name": self.display_name,
            "roles": self.roles,
            "status": self.status,
        }

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        user = cls(aggregate_id)
        user.username = state["username"]
        user.email = state["email"]
        user.display_name = state["display_name"]
        user.roles = list(state["roles"])
        user.status = state["status"]
        return user
