"""The user aggregate: an identity within one tenant."""

from __future__ import annotations

from typing import Any, Self

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.iam.domain.rules import check_email, check_username


class UserRegistered(DomainEvent):
    user_id: str
    username: str
    email: str
    roles: list[str]


class User(Aggregate):
    stream_type = "iam.user"
    event_types = (UserRegistered,)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.username = ""
        self.email = ""
        self.roles: list[str] = []
        self.status = "new"

    @classmethod
    def register(
        cls, user_id: str, username: str, email: str, roles: list[str]
    ) -> User:
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

    def apply(self, event: DomainEvent) -> None:
        match event:
            case UserRegistered(username=username, email=email, roles=roles):
                self.username = username
                self.email = email
                self.roles = list(roles)
                self.status = "active"

    def snapshot_state(self) -> dict[str, Any] | None:
        return {
            "username": self.username,
            "email": self.email,
            "roles": self.roles,
            "status": self.status,
        }

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any]) -> Self:
        user = cls(aggregate_id)
        user.username = state["username"]
        user.email = state["email"]
        user.roles = list(state["roles"])
        user.status = state["status"]
        return user
