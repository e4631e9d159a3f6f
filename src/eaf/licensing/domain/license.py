"""The license aggregate: lifecycle and machine seats, as plain Python.

Command methods check the rules against the current state and record events;
:meth:`License.apply` is the only place state changes, so replaying stored
events rebuilds exactly the state the commands saw.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from eaf.licensing.domain import _codec
from eaf.licensing.domain._text import check_text
from eaf.licensing.domain.document import (
    LicenseDocument,
    LicenseStatus,
    check_customer,
    check_identifier,
    classify_moment,
)
from eaf.licensing.domain.errors import (
    ActivationNotFoundError,
    FingerprintUnavailableError,
    LicenseStateError,
    SeatLimitExceededError,
)
from eaf.licensing.domain.events import (
    LicenseEvent,
    LicenseIssued,
    LicenseReinstated,
    LicenseRenewed,
    LicenseRevoked,
    LicenseSuspended,
    MachineActivated,
    MachineDeactivated,
)
from eaf.licensing.domain.machine import Fingerprint, MatchRule
from eaf.licensing.domain.policy import Policy, check_expiry, check_name


class LicenseState(enum.StrEnum):
    """Lifecycle state, independent of the validity window."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Activation:
    """A machine holding one seat of a license."""

    activation_id: str
    fingerprint: Fingerprint
    activated_at: datetime


class License:
    """A customer's license for one product, under one policy.

    Create one with :meth:`issue` or rebuild one with :meth:`from_events`;
    ``collect_events`` hands over the events recorded since.
    """

    def __init__(self, issued: LicenseIssued) -> None:
        self.license_id = issued.license_id
        self.product = issued.product
        self.customer = issued.customer
        self.policy = issued.policy
        self.issued_at = issued.occurred_at
        self.expires_at = issued.expires_at
        self.state = LicenseState.ACTIVE
        self.activations: dict[str, Activation] = {}
        self.version = 1
        self._pending: list[LicenseEvent] = []

    @classmethod
    def issue(
        cls,
        license_id: str,
        *,
        product: str,
        customer: str,
        policy: Policy,
        at: datetime,
    ) -> License:
        """Issue a new license; its term starts at ``at``."""
        issued = LicenseIssued(
            license_id=check_identifier("license id", license_id),
            occurred_at=at,
            product=check_name("product", product),
            customer=check_customer(customer),
            policy=policy,
            expires_at=policy.expiry_for(at),
        )
        license_ = cls(issued)
        license_._pending.append(issued)
        return license_

    @classmethod
    def from_events(cls, events: Iterable[LicenseEvent]) -> License:
        """Rebuild a license from its stored events, oldest first."""
        stream = iter(events)
        first = next(stream, None)
        if not isinstance(first, LicenseIssued):
            raise LicenseStateError("a license stream must start with LicenseIssued")
        license_ = cls(first)
        for event in stream:
            license_.apply(event)
        return license_

    @property
    def pending_events(self) -> tuple[LicenseEvent, ...]:
        """Events recorded by commands and not yet collected."""
        return tuple(self._pending)

    def collect_events(self) -> list[LicenseEvent]:
        """Hand over the recorded events and forget them."""
        events, self._pending = self._pending, []
        return events

    @property
    def seats_used(self) -> int:
        """How many machines hold a seat now."""
        return len(self.activations)

    @property
    def has_seats_left(self) -> bool:
        """True when one more machine may be activated."""
        limit = self.policy.max_machines
        return limit is None or self.seats_used < limit

    def status_at(self, now: datetime) -> LicenseStatus:
        """Where ``now`` falls in the validity window, grace included."""
        return classify_moment(
            now,
            not_before=self.issued_at,
            expires_at=self.expires_at,
            grace_days=self.policy.grace_days,
        )

    def overall_status(self, now: datetime) -> str:
        """What the license is worth at ``now``, lifecycle first.

        ``revoked`` or ``suspended`` while the license is not active; else
        where ``now`` falls in the validity window: ``not_yet_valid``,
        ``valid``, ``in_grace`` or ``expired``.
        """
        if self.state is not LicenseState.ACTIVE:
            return str(self.state)
        return str(self.status_at(now))

    def find_activation(
        self, fingerprint: Fingerprint, rule: MatchRule | None = None
    ) -> Activation | None:
        """The activation whose machine ``fingerprint`` describes, if any."""
        exact = self.activations.get(fingerprint.id)
        if exact is not None:
            return exact
        rule = rule or MatchRule()
        for activation in self.activations.values():
            if rule.matches(activation.fingerprint, fingerprint):
                return activation
        return None

    def renew(self, *, at: datetime) -> None:
        """Extend by one policy term from the current expiry (or ``at`` if later)."""
        if self.expires_at is None:
            raise LicenseStateError("a perpetual license cannot be renewed")
        start = max(self.expires_at, _codec.to_utc_seconds(at))
        self.extend_to(self.policy.expiry_for(start), at=at)

    def extend_to(self, expires_at: datetime | None, *, at: datetime) -> None:
        """Move the expiry to ``expires_at`` (``None`` makes it perpetual)."""
        self._require_not_revoked("renew")
        if self.expires_at is None:
            raise LicenseStateError("a perpetual license cannot be extended")
        if expires_at is not None:
            expires_at = check_expiry(_codec.to_utc_seconds(expires_at))
            if expires_at <= self.expires_at:
                raise LicenseStateError("the new expiry must be later than the current")
        self._record(
            LicenseRenewed(
                license_id=self.license_id,
                occurred_at=at,
                previous_expires_at=self.expires_at,
                expires_at=expires_at,
            )
        )

    def suspend(self, reason: str, *, at: datetime) -> None:
        """Pause the license: no new activations, no new license files."""
        check_text("reason", reason)
        if self.state is not LicenseState.ACTIVE:
            raise LicenseStateError(f"cannot suspend a {self.state} license")
        self._record(
            LicenseSuspended(license_id=self.license_id, occurred_at=at, reason=reason)
        )

    def reinstate(self, *, at: datetime) -> None:
        """Lift a suspension."""
        if self.state is not LicenseState.SUSPENDED:
            raise LicenseStateError(f"cannot reinstate a {self.state} license")
        self._record(LicenseReinstated(license_id=self.license_id, occurred_at=at))

    def revoke(self, reason: str, *, at: datetime) -> None:
        """End the license for good."""
        check_text("reason", reason)
        self._require_not_revoked("revoke")
        self._record(
            LicenseRevoked(license_id=self.license_id, occurred_at=at, reason=reason)
        )

    def activate_machine(
        self, fingerprint: Fingerprint, *, at: datetime, rule: MatchRule | None = None
    ) -> Activation:
        """Give the machine a seat, or return the seat it already holds.

        Raises:
            SeatLimitExceededError: every seat is taken by another machine.
        """
        if self.state is not LicenseState.ACTIVE:
            raise LicenseStateError(f"cannot activate on a {self.state} license")
        if self.status_at(at) is LicenseStatus.EXPIRED:
            raise LicenseStateError(f"license {self.license_id} has expired")
        if not fingerprint.has_anchor:
            raise FingerprintUnavailableError("fingerprint has no anchor component")
        existing = self.find_activation(fingerprint, rule)
        if existing is not None:
            return existing
        if not self.has_seats_left:
            raise SeatLimitExceededError(
                f"license {self.license_id} has no free seat",
                license_id=self.license_id,
                seats=self.policy.max_machines,
            )
        self._record(
            MachineActivated(
                license_id=self.license_id,
                occurred_at=at,
                activation_id=fingerprint.id,
                fingerprint=fingerprint,
            )
        )
        return self.activations[fingerprint.id]

    def deactivate_machine(
        self, activation_id: str, *, at: datetime, reason: str = ""
    ) -> None:
        """Free the seat held by ``activation_id``."""
        if activation_id not in self.activations:
            raise ActivationNotFoundError(
                f"no activation {activation_id!r} on license {self.license_id}",
                license_id=self.license_id,
                activation_id=activation_id,
            )
        self._record(
            MachineDeactivated(
                license_id=self.license_id,
                occurred_at=at,
                activation_id=activation_id,
                reason=reason,
            )
        )

    def to_document(self, *, key_id: str, at: datetime) -> LicenseDocument:
        """The document to sign for this license, issued at ``at``."""
        return LicenseDocument(
            license_id=self.license_id,
            product=self.product,
            customer=self.customer,
            issued_at=at,
            not_before=self.issued_at,
            expires_at=self.expires_at,
            key_id=key_id,
            grace_days=self.policy.grace_days,
            entitlements=self.policy.entitlements,
            limits=self.policy.limits,
            node_locked=self.policy.node_locked,
            trial=self.policy.is_trial,
        )

    def apply(self, event: LicenseEvent) -> None:
        """Change state according to one event; no rule is checked here."""
        match event:
            case LicenseRenewed(expires_at=expires_at):
                self.expires_at = expires_at
            case LicenseSuspended():
                self.state = LicenseState.SUSPENDED
            case LicenseReinstated():
                self.state = LicenseState.ACTIVE
            case LicenseRevoked():
                self.state = LicenseState.REVOKED
            case MachineActivated(activation_id=activation_id):
                self.activations[activation_id] = Activation(
                    activation_id, event.fingerprint, event.occurred_at
                )
            case MachineDeactivated(activation_id=activation_id):
                self.activations.pop(activation_id, None)
            case _:
                raise LicenseStateError(f"{event.type} cannot be applied to a license")
        self.version += 1

    def _record(self, event: LicenseEvent) -> None:
        self.apply(event)
        self._pending.append(event)

    def _require_not_revoked(self, action: str) -> None:
        if self.state is LicenseState.REVOKED:
            raise LicenseStateError(f"cannot {action} a revoked license")
