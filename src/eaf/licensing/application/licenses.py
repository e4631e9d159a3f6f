"""Licenses: issue, lifecycle, signed files, and machine activations.

Every command on a license runs in one transaction of the vendor tenant that
first locks the license's seat row, then loads the stream through the same
connection, decides, writes seats, and appends last. Commands on one license
therefore never race, and the seat limit is checked against the seat rows
under that lock.

``as_customer`` names the tenant a caller acts for: a customer sees and
activates only licenses issued to it; ``None`` is the vendor itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from eaf.db.pool import Connection, Database
from eaf.errors import AlreadyExistsError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing.activation import ActivationRequest, issue_machine_certificate
from eaf.licensing.adapters.postgres import LicenseRepository, SeatLedger
from eaf.licensing.application.catalog import CatalogService
from eaf.licensing.application.keys import KeyService
from eaf.licensing.clock import utc_now
from eaf.licensing.domain._codec import to_utc_seconds
from eaf.licensing.domain.errors import LicenseNotFoundError, LicenseStateError
from eaf.licensing.domain.events import MachineActivated
from eaf.licensing.domain.license import License, LicenseState
from eaf.licensing.license_file import sign_license

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

ONLINE_CERTIFICATE_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class ActivationResult:
    """A machine's seat and the signed certificate that proves it."""

    license_id: str
    activation_id: str
    certificate: str
    expires_at: datetime | None


def license_view(license_: License, now: datetime) -> dict[str, Any]:
    """The API form of a license, its status computed at ``now``."""
    policy = license_.policy
    return {
        "id": license_.license_id,
        "product": license_.product,
        "customer": license_.customer,
        "policy": policy.name,
        "state": str(license_.state),
        "status": license_.overall_status(now),
        "issued_at": license_.issued_at,
        "expires_at": license_.expires_at,
        "grace_days": policy.grace_days,
        "entitlements": sorted(policy.entitlements),
        "limits": dict(policy.limits),
        "node_locked": policy.node_locked,
        "trial": policy.is_trial,
        "max_seats": policy.max_machines,
        "seats_used": license_.seats_used,
    }


def activation_views(license_: License) -> list[dict[str, Any]]:
    """The machines holding seats of ``license_``, oldest first."""
    activations = sorted(license_.activations.values(), key=lambda a: a.activated_at)
    return [
        {
            "id": activation.activation_id,
            "license_id": license_.license_id,
            "fingerprint": activation.fingerprint.id,
            "activated_at": activation.activated_at,
        }
        for activation in activations
    ]


def new_license_id() -> str:
    """A fresh, unguessable license id."""
    return f"lic-{uuid.uuid4().hex}"


class LicenseService:
    """Licenses of one vendor tenant, issued to customer tenants."""

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        vendor: str,
        catalog: CatalogService,
        keys: KeyService,
        *,
        clock: Clock = utc_now,
        online_lifetime: timedelta = ONLINE_CERTIFICATE_LIFETIME,
    ) -> None:
        self.db = db
        self.vendor = vendor
        self.catalog = catalog
        self.keys = keys
        self.clock = clock
        self.online_lifetime = online_lifetime
        self.repository = LicenseRepository(store, vendor)
        self.seats = SeatLedger(vendor)

    async def issue(
        self, customer: str, policy_id: str, license_id: str | None = None
    ) -> License:
        """Issue a license to ``customer`` under an open policy, starting now.

        Raises:
            CatalogNotFoundError: the policy or its product does not exist.
            PolicyError: the policy or its product is archived.
            AlreadyExistsError: ``license_id`` is taken.
        """
        definition = await self.catalog.get_policy(policy_id)
        definition.require_open()
        (await self.catalog.get_product(definition.product)).require_open()
        license_ = License.issue(
            license_id or new_license_id(),
            product=definition.product,
            customer=customer,
            policy=definition.policy,
            at=self.clock(),
        )
        max_seats = definition.policy.max_machines
        async with self.db.transaction(self.vendor) as conn:
            opened = await self.seats.open_license(
                conn, license_.license_id, customer, max_seats
            )
            if not opened:
                raise AlreadyExistsError(
                    f"license {license_.license_id!r} already exists",
                    license_id=license_.license_id,
                )
            await self.repository.save_in(conn, license_)
        log.info("licensing.license_issued", license_id=license_.license_id)
        return license_

    async def get(self, license_id: str, *, as_customer: str | None = None) -> License:
        """The license as of now, if the caller may see it.

        Raises:
            LicenseNotFoundError: no such license, or not the caller's.
        """
        async with self.db.transaction(self.vendor) as conn:
            license_ = await self.repository.load_in(conn, license_id)
        return self._visible(license_, license_id, as_customer)

    async def list_licenses(
        self, *, customer: str | None = None, product: str | None = None
    ) -> list[dict[str, Any]]:
        """License summaries from the read model, filtered when asked."""
        async with self.db.transaction(self.vendor) as conn:
            cur = await conn.execute(
                "SELECT license_id AS id, customer, product, policy_id AS policy, "
                "state, issued_at, expires_at, grace_days, max_seats, seats_used "
                "FROM licensing_licenses "
                "WHERE (%(customer)s::text IS NULL OR customer = %(customer)s) "
                "AND (%(product)s::text IS NULL OR product = %(product)s) "
                "ORDER BY issued_at, license_id",
                {"customer": customer, "product": product},
            )
            return list(await cur.fetchall())

    async def renew(self, license_id: str) -> License:
        """Extend by one policy term from the current expiry."""

        async def decide(_: Connection, license_: License) -> None:
            license_.renew(at=self.clock())

        return await self._change(license_id, decide)

    async def extend(self, license_id: str, expires_at: datetime) -> License:
        """Move the expiry to ``expires_at``."""

        async def decide(_: Connection, license_: License) -> None:
            license_.extend_to(expires_at, at=self.clock())

        return await self._change(license_id, decide)

    async def suspend(self, license_id: str, reason: str) -> License:
        """Pause the license: no new files or activations until reinstated."""

        async def decide(_: Connection, license_: License) -> None:
            license_.suspend(reason, at=self.clock())

        return await self._change(license_id, decide)

    async def reinstate(self, license_id: str) -> License:
        """Lift a suspension."""

        async def decide(_: Connection, license_: License) -> None:
            license_.reinstate(at=self.clock())

        return await self._change(license_id, decide)

    async def revoke(self, license_id: str, reason: str) -> License:
        """End the license for good."""

        async def decide(_: Connection, license_: License) -> None:
            license_.revoke(reason, at=self.clock())

        return await self._change(license_id, decide)

    async def license_file(
        self, license_id: str, *, as_customer: str | None = None
    ) -> str:
        """A freshly signed license file (compact JWS) for an active license."""
        async with self.db.transaction(self.vendor) as conn:
            loaded = await self.repository.load_in(conn, license_id)
            license_ = self._visible(loaded, license_id, as_customer)
            if license_.state is not LicenseState.ACTIVE:
                raise LicenseStateError(
                    f"license {license_id} is {license_.state}; no new license files"
                )
            key = await self.keys.active_key(conn)
        document = license_.to_document(key_id=key.kid, at=self.clock())
        return sign_license(document, key)

    async def activate(
        self,
        request: ActivationRequest,
        *,
        as_customer: str | None = None,
        offline: bool = False,
    ) -> ActivationResult:
        """Give the requesting machine a seat and sign its certificate.

        The same machine asking again keeps its seat and gets a new
        certificate. Online certificates expire after ``online_lifetime``;
        offline ones last as long as the license.

        Raises:
            SeatLimitExceededError: every seat is held by another machine.
        """
        lifetime = None if offline else self.online_lifetime
        result: ActivationResult | None = None

        async def decide(conn: Connection, license_: License) -> None:
            nonlocal result
            key = await self.keys.active_key(conn)
            now = self.clock()
            certificate = issue_machine_certificate(
                license_, request, key, now=now, valid_for=lifetime
            )
            for event in license_.pending_events:
                if isinstance(event, MachineActivated):
                    await self.seats.take_seat(
                        conn, license_.license_id, event.activation_id
                    )
            activation = license_.find_activation(request.fingerprint)
            assert activation is not None
            expires_at = None if lifetime is None else to_utc_seconds(now + lifetime)
            result = ActivationResult(
                license_.license_id, activation.activation_id, certificate, expires_at
            )

        await self._change(request.license_id, decide, as_customer)
        assert result is not None
        log.info(
            "licensing.machine_activated",
            license_id=result.license_id,
            activation_id=result.activation_id,
            offline=offline,
        )
        return result

    async def deactivate(
        self,
        license_id: str,
        activation_id: str,
        *,
        as_customer: str | None = None,
        reason: str = "",
    ) -> License:
        """Free the seat held by ``activation_id``."""

        async def decide(conn: Connection, license_: License) -> None:
            license_.deactivate_machine(activation_id, at=self.clock(), reason=reason)
            await self.seats.free_seat(conn, license_id, activation_id)

        return await self._change(license_id, decide, as_customer)

    async def _change(
        self,
        license_id: str,
        decide: Callable[[Connection, License], Awaitable[None]],
        as_customer: str | None = None,
    ) -> License:
        async with self.db.transaction(self.vendor) as conn:
            if not await self.seats.lock_license(conn, license_id):
                raise LicenseNotFoundError(
                    f"no license {license_id!r}", license_id=license_id
                )
            loaded = await self.repository.load_in(conn, license_id)
            license_ = self._visible(loaded, license_id, as_customer)
            await decide(conn, license_)
            await self.repository.save_in(conn, license_)
        return license_

    def _visible(
        self, license_: License | None, license_id: str, as_customer: str | None
    ) -> License:
        # Another customer's license answers exactly like a missing one, so
        # ids cannot be probed across tenants.
        if license_ is None or (
            as_customer is not None and license_.customer != as_customer
        ):
            raise LicenseNotFoundError(
                f"no license {license_id!r}", license_id=license_id
            )
        return license_
