"""The vendor's signing keys as an aggregate: which key signs, which verify.

Only public halves and statuses travel in events; the encrypted private keys
stay in their table. At most one key is active: generating a new one retires
the one before (a rotation). A revoked key verifies nothing any more.
"""

from __future__ import annotations

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.licensing.domain._text import check_text
from eaf.licensing.domain.errors import (
    SigningKeyNotFoundError,
    SigningKeyStateError,
)
from eaf.licensing.keyring import KeyStatus


class SigningKeyGenerated(DomainEvent):
    """A new key became the active signing key."""

    kid: str
    public_jwk: dict[str, str]


class SigningKeyRetired(DomainEvent):
    """The key signs nothing new; what it signed keeps verifying."""

    kid: str


class SigningKeyRevoked(DomainEvent):
    """The key is distrusted; nothing it signed verifies any more."""

    kid: str
    reason: str


class SigningKeySet(Aggregate):
    """The statuses of one vendor's license signing keys."""

    stream_type = "licensing.keys"
    event_types = (SigningKeyGenerated, SigningKeyRetired, SigningKeyRevoked)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.statuses: dict[str, KeyStatus] = {}

    @property
    def active_kid(self) -> str | None:
        """The key that signs new files, if there is one."""
        for kid, status in self.statuses.items():
            if status is KeyStatus.ACTIVE:
                return kid
        return None

    def add_key(self, kid: str, public_jwk: dict[str, str]) -> str | None:
        """Make ``kid`` the active key; return the kid it retired, if any."""
        if kid in self.statuses:
            raise SigningKeyStateError(f"signing key {kid!r} already exists", kid=kid)
        retired = self.active_kid
        if retired is not None:
            self.record(SigningKeyRetired(kid=retired))
        self.record(SigningKeyGenerated(kid=kid, public_jwk=public_jwk))
        return retired

    def revoke(self, kid: str, reason: str) -> None:
        """Distrust ``kid`` for good."""
        check_text("reason", reason)
        status = self.statuses.get(kid)
        if status is None:
            raise SigningKeyNotFoundError(f"no signing key {kid!r}", kid=kid)
        if status is KeyStatus.REVOKED:
            raise SigningKeyStateError(f"signing key {kid!r} is already revoked")
        self.record(SigningKeyRevoked(kid=kid, reason=reason))

    def apply(self, event: DomainEvent) -> None:
        """Change state for one event."""
        match event:
            case SigningKeyGenerated(kid=kid):
                self.statuses[kid] = KeyStatus.ACTIVE
            case SigningKeyRetired(kid=kid):
                self.statuses[kid] = KeyStatus.RETIRED
            case SigningKeyRevoked(kid=kid):
                self.statuses[kid] = KeyStatus.REVOKED
