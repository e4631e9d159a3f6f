"""OAuth clients of a tenant: service accounts and registered browser clients.

A service account is a confidential client that acts as itself
(``client_credentials``). A browser client is a public client that signs users
in with ``authorization_code`` and PKCE, to redirect URIs registered up front.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.errors import NotFoundError
from eaf.iam.domain.rules import InvalidInputError, check_text

ACTIVE = "active"
DELETED = "deleted"


class ServiceAccountCreated(DomainEvent):
    account_id: str
    name: str
    client_id: str
    roles: list[str]


class ServiceAccountSecretRotated(DomainEvent):
    """A new secret replaced the old one; neither enters an event."""


class ServiceAccountDeleted(DomainEvent):
    pass


class ServiceAccount(Aggregate):
    """Credentials for a machine that calls the platform on its own behalf."""

    stream_type = "iam.service_account"
    event_types = (
        ServiceAccountCreated,
        ServiceAccountSecretRotated,
        ServiceAccountDeleted,
    )

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.name = ""
        self.client_id = ""
        self.roles: list[str] = []
        self.status = "new"

    @classmethod
    def create(
        cls, account_id: str, name: str, client_id: str, roles: list[str]
    ) -> ServiceAccount:
        """A new service account with its client id and roles."""
        what = "a service account name"
        cleaned = " ".join(check_text(name, "name", what).split())[:200]
        if not cleaned:
            raise InvalidInputError("a service account needs a name", field="name")
        account = cls(account_id)
        account.record(
            ServiceAccountCreated(
                account_id=account_id, name=cleaned, client_id=client_id, roles=roles
            )
        )
        return account

    def rotate_secret(self) -> None:
        """Record that the secret was replaced."""
        self._require_active()
        self.record(ServiceAccountSecretRotated())

    def delete(self) -> None:
        """Delete the account."""
        self._require_active()
        self.record(ServiceAccountDeleted())

    def _require_active(self) -> None:
        if self.status != ACTIVE:
            raise NotFoundError(f"service account {self.id!r} not found")

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ServiceAccountCreated(name=name, client_id=client_id, roles=roles):
                self.name = name
                self.client_id = client_id
                self.roles = list(roles)
                self.status = ACTIVE
            case ServiceAccountDeleted():
                self.status = DELETED


class BrowserClientRegistered(DomainEvent):
    client_id: str
    name: str
    redirect_uris: list[str]


class BrowserClientRemoved(DomainEvent):
    pass


def check_redirect_uri(uri: str) -> str:
    """Absolute https URIs, or http on the loopback host (RFC 8252 7.3)."""
    check_text(uri, "redirect_uris", "a redirect URI")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise InvalidInputError(
            f"redirect URI {uri!r} is invalid", field="redirect_uris"
        ) from exc
    is_loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.fragment or not parts.hostname or len(uri) > 2000:
        raise InvalidInputError(
            f"redirect URI {uri!r} must be absolute and have no fragment",
            field="redirect_uris",
        )
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback):
        raise InvalidInputError(
            f"redirect URI {uri!r} must use https (http only on the loopback host)",
            field="redirect_uris",
        )
    return uri


class BrowserClient(Aggregate):
    """A public client (a single-page or native app) registered by a tenant."""

    stream_type = "iam.client"
    event_types = (BrowserClientRegistered, BrowserClientRemoved)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.name = ""
        self.redirect_uris: list[str] = []
        self.status = "new"

    @classmethod
    def register(
        cls, client_id: str, name: str, redirect_uris: list[str]
    ) -> BrowserClient:
        """A new public client with checked redirect URIs."""
        if not redirect_uris:
            raise InvalidInputError(
                "register at least one redirect URI", field="redirect_uris"
            )
        checked = sorted({check_redirect_uri(uri) for uri in redirect_uris})
        cleaned = " ".join(check_text(name, "name", "a client name").split())
        client = cls(client_id)
        client.record(
            BrowserClientRegistered(
                client_id=client_id,
                name=cleaned[:200] or client_id,
                redirect_uris=checked,
            )
        )
        return client

    def remove(self) -> None:
        """Remove the client."""
        if self.status != ACTIVE:
            raise NotFoundError(f"client {self.id!r} not found")
        self.record(BrowserClientRemoved())

    def apply(self, event: DomainEvent) -> None:
        match event:
            case BrowserClientRegistered(name=name, redirect_uris=uris):
                self.name = name
                self.redirect_uris = list(uris)
                self.status = ACTIVE
            case BrowserClientRemoved():
                self.status = DELETED
