"""Offline license validation for products, with no server to ask.

The validator holds the installed license (and machine certificate) as text
and checks them against pinned public keys every time it validates: the
signature, the product, the clock, the validity window with its grace period,
and for node-locked licenses the binding to this machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from eaf.licensing._files import read_signed_file
from eaf.licensing.activation import (
    MachineCertificate,
    certificate_path_for,
    verify_machine_certificate,
)
from eaf.licensing.clock import (
    DEFAULT_TOLERANCE,
    LastSeenStore,
    check_clock,
    derive_state_key,
    utc_now,
)
from eaf.licensing.domain import _codec
from eaf.licensing.domain.document import LicenseDocument, LicenseStatus
from eaf.licensing.domain.errors import (
    ActivationRequiredError,
    FeatureNotLicensedError,
    LicenseExpiredError,
    LicenseNotYetValidError,
    LicensingError,
    ProductMismatchError,
)
from eaf.licensing.domain.machine import Fingerprint, MatchRule
from eaf.licensing.fingerprint import machine_fingerprint
from eaf.licensing.keyring import KeyRing
from eaf.licensing.license_file import verify_license

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ValidationResult:
    """A successful validation: the license may be used, maybe with warnings."""

    status: LicenseStatus
    document: LicenseDocument
    certificate: MachineCertificate | None
    checked_at: datetime
    warnings: tuple[str, ...] = ()

    @property
    def is_in_grace(self) -> bool:
        """True when the license has expired but its grace period runs."""
        return self.status is LicenseStatus.IN_GRACE


class LicenseValidator:
    """Validates one installed license for one product, offline.

    Args:
        keyring: the pinned public keys, built into the product.
        product: the product name every license and certificate must carry.
        license_text: the license file's content.
        certificate_text: the machine certificate file's content, if any;
            required for node-locked licenses.
        fingerprint: this machine's fingerprint; read from the system on
            first need when omitted.
        now: the clock; tests pass a controllable one.
        state_path: where to keep the sealed last-seen time; without it only
            the license's issue time and this process's memory guard the
            clock, so a clock set back between restarts goes unnoticed, and
            a ``licensing.clock_state_missing`` warning is logged.
        state_secret: an optional vendor secret mixed into the seal's key.
        clock_tolerance: how far the clock may step back without alarm.
        skew: how early before not_before a license is already accepted.
    """

    def __init__(
        self,
        keyring: KeyRing,
        product: str,
        license_text: str,
        *,
        certificate_text: str | None = None,
        fingerprint: Fingerprint | None = None,
        match_rule: MatchRule | None = None,
        now: Clock = utc_now,
        state_path: Path | None = None,
        state_secret: bytes = b"",
        clock_tolerance: timedelta = DEFAULT_TOLERANCE,
        skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self.keyring = keyring
        self.product = product
        self.match_rule = match_rule or MatchRule()
        self.clock_tolerance = clock_tolerance
        self.skew = skew
        self._now = now
        self._state_path = state_path
        self._state_secret = state_secret
        self._fingerprint = fingerprint
        self._license_text = license_text
        self._certificate_text = certificate_text
        self._latest_seen: datetime | None = None
        self._result: ValidationResult | None = None
        self._last_error: LicensingError | None = None
        if state_path is None:
            log.warning(
                "licensing.clock_state_missing",
                product=product,
                consequence="clock set back across restarts goes undetected",
            )

    @classmethod
    def from_files(
        cls,
        keyring: KeyRing,
        product: str,
        license_path: Path,
        certificate_path: Path | None = None,
        **options: Any,
    ) -> LicenseValidator:
        """A validator for the license (and certificate) installed as files.

        Without ``certificate_path`` the certificate is looked for beside the
        license, where ``eaf license install-certificate`` puts it
        (:func:`~eaf.licensing.activation.certificate_path_for`).
        ``options`` are the keyword arguments of the constructor.
        """
        certificate_text = None
        if certificate_path is None:
            certificate_path = certificate_path_for(license_path)
        if certificate_path.exists():
            certificate_text = read_signed_file(certificate_path)
        return cls(
            keyring,
            product,
            read_signed_file(license_path),
            certificate_text=certificate_text,
            **options,
        )

    @property
    def result(self) -> ValidationResult | None:
        """The outcome of the last validation, ``None`` if it failed."""
        return self._result

    @property
    def last_error(self) -> LicensingError | None:
        """Why the last validation failed, ``None`` if it succeeded."""
        return self._last_error

    @property
    def is_valid(self) -> bool:
        """True when the last validation succeeded (grace included)."""
        return self._result is not None

    def install(
        self, license_text: str, certificate_text: str | None = None
    ) -> ValidationResult:
        """Replace the license (and certificate), then validate them."""
        self._license_text = license_text
        self._certificate_text = certificate_text
        return self.validate()

    def validate(self) -> ValidationResult:
        """Check everything now; on failure, features are off until it passes.

        Raises:
            LicensingError: one of its subclasses, saying what failed.
        """
        try:
            result = self._check(_codec.to_utc_seconds(self._now()))
        except LicensingError as exc:
            self._result, self._last_error = None, exc
            raise
        if result.is_in_grace and not (self._result and self._result.is_in_grace):
            log.warning(
                "licensing.license_in_grace",
                license_id=result.document.license_id,
                grace_ends_at=str(result.document.grace_ends_at),
            )
        self._result, self._last_error = result, None
        return result

    def revalidate(self) -> ValidationResult | None:
        """Validate without raising, for background tasks; errors are logged."""
        try:
            return self.validate()
        except LicensingError as exc:
            log.warning("licensing.validation_failed", error=type(exc).__name__)
            return None

    def has_feature(self, name: str) -> bool:
        """True when a valid license grants ``name``."""
        return self._result is not None and self._result.document.has_feature(name)

    def require_feature(self, name: str) -> None:
        """Raise :class:`FeatureNotLicensedError` unless ``name`` is granted."""
        if not self.has_feature(name):
            raise FeatureNotLicensedError(name)

    def limit(self, name: str) -> int | None:
        """The licensed limit ``name``.

        ``None`` when the license sets no such limit, ``0`` when no valid
        license is installed (nothing is licensed then).
        """
        if self._result is None:
            return 0
        return self._result.document.limit(name)

    def _check(self, now: datetime) -> ValidationResult:
        document = verify_license(self._license_text, self.keyring).document
        if document.product != self.product:
            raise ProductMismatchError(f"license is for {document.product!r}")
        self._check_clock(document, now)
        status = document.status_at(now, self.skew)
        if status is LicenseStatus.NOT_YET_VALID:
            raise LicenseNotYetValidError(
                f"license starts at {_codec.format_timestamp(document.not_before)}"
            )
        if status is LicenseStatus.EXPIRED:
            raise LicenseExpiredError(f"license {document.license_id} has expired")
        certificate = self._check_machine(document, now)
        warnings: tuple[str, ...] = ()
        if status is LicenseStatus.IN_GRACE:
            ends_at = _codec.format_timestamp(document.grace_ends_at or now)
            warnings = (f"license expired; grace period ends at {ends_at}",)
        return ValidationResult(status, document, certificate, now, warnings)

    def _check_clock(self, document: LicenseDocument, now: datetime) -> None:
        # The license cannot have been signed after the moment we are in, so
        # its issue time is a floor that survives deleting the state file.
        floor = max(document.issued_at, self._latest_seen or document.issued_at)
        check_clock(now, floor, self.clock_tolerance)
        latest = max(floor, now)
        if self._state_path is not None:
            key = derive_state_key(
                self.product, document.license_id, self._state_secret
            )
            store = LastSeenStore(self._state_path, key, self.clock_tolerance)
            latest = max(latest, store.advance(now))
        self._latest_seen = latest

    def _check_machine(
        self, document: LicenseDocument, now: datetime
    ) -> MachineCertificate | None:
        if self._certificate_text is None:
            if document.node_locked:
                raise ActivationRequiredError(
                    f"license {document.license_id} is node-locked; install a "
                    "machine certificate"
                )
            return None
        if self._fingerprint is None:
            self._fingerprint = machine_fingerprint(self.product)
        return verify_machine_certificate(
            self._certificate_text,
            self.keyring,
            license_id=document.license_id,
            product=self.product,
            fingerprint=self._fingerprint,
            now=now,
            rule=self.match_rule,
        )


async def run_revalidation(
    validator: LicenseValidator,
    interval_s: float,
    *,
    on_result: Callable[[ValidationResult | None], None] | None = None,
) -> None:
    """Revalidate every ``interval_s`` seconds until cancelled.

    Failures are logged by :meth:`LicenseValidator.revalidate` and turn
    features off; the loop keeps going so a renewed license is picked up.
    """
    while True:
        await asyncio.sleep(interval_s)
        result = validator.revalidate()
        if on_result is not None:
            on_result(result)


def start_revalidation(
    validator: LicenseValidator, interval_s: float
) -> asyncio.Task[None]:
    """Start :func:`run_revalidation` as a task of the running event loop."""
    return asyncio.create_task(
        run_revalidation(validator, interval_s), name="eaf-license-revalidation"
    )
