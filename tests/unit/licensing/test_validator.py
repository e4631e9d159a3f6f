"""Offline validation in the product, with a controlled clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from eaf.licensing import (
    ActivationRequest,
    ActivationRequiredError,
    ClockTamperError,
    FeatureNotLicensedError,
    Fingerprint,
    KeyRing,
    LastSeenTamperedError,
    License,
    LicenseExpiredError,
    LicenseNotYetValidError,
    LicenseStatus,
    LicenseValidator,
    MachineMismatchError,
    Policy,
    ProductMismatchError,
    SigningKey,
    ValidationResult,
    issue_machine_certificate,
    run_revalidation,
    write_license_file,
)

from .conftest import PRODUCT, START, FakeClock


def _certificate(key: SigningKey, fingerprint: Fingerprint) -> str:
    policy = Policy("locked", node_locked=True)
    license_ = License.issue(
        "lic-0001", product=PRODUCT, customer="acme", policy=policy, at=START
    )
    request = ActivationRequest.create("lic-0001", PRODUCT, fingerprint, now=START)
    return issue_machine_certificate(license_, request, key, now=START)


def test_valid_license_grants_features_and_limits(
    validator: LicenseValidator,
) -> None:
    result = validator.validate()

    assert result.status is LicenseStatus.VALID
    assert result.warnings == ()
    assert validator.has_feature("reports")
    assert not validator.has_feature("audit")
    assert validator.limit("users") == 50
    assert validator.limit("storage_gb") is None


def test_unvalidated_license_grants_nothing(validator: LicenseValidator) -> None:
    assert not validator.has_feature("reports")
    assert validator.limit("users") == 0
    with pytest.raises(FeatureNotLicensedError):
        validator.require_feature("reports")


def test_license_inside_grace_is_valid_with_warning(
    validator: LicenseValidator, clock: FakeClock
) -> None:
    clock.advance(days=370)

    with capture_logs() as logs:
        result = validator.validate()

    assert result.status is LicenseStatus.IN_GRACE
    assert "grace period ends at 2026-03-15T12:00:00Z" in result.warnings[0]
    assert validator.has_feature("reports")
    assert [entry["event"] for entry in logs] == ["licensing.license_in_grace"]
    assert logs[0]["license_id"] == "lic-0001"


def test_license_after_grace_is_refused(
    validator: LicenseValidator, clock: FakeClock
) -> None:
    validator.validate()
    clock.advance(days=379)

    with pytest.raises(LicenseExpiredError):
        validator.validate()

    assert not validator.has_feature("reports")
    assert isinstance(validator.last_error, LicenseExpiredError)


def test_license_before_not_before_is_refused(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
) -> None:
    later = START + timedelta(days=10)
    validator = validator_for(license_for(not_before=later))

    with pytest.raises(LicenseNotYetValidError):
        validator.validate()


def test_license_of_other_product_is_refused(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
) -> None:
    with pytest.raises(ProductMismatchError):
        validator_for(license_for(product="nebula")).validate()


def test_clock_set_back_beyond_tolerance_is_refused(
    validator: LicenseValidator, clock: FakeClock
) -> None:
    clock.advance(days=370)
    validator.validate()

    clock.advance(days=-20)

    with pytest.raises(ClockTamperError):
        validator.validate()


def test_clock_set_back_within_tolerance_is_accepted(
    validator: LicenseValidator, clock: FakeClock
) -> None:
    clock.advance(days=1)
    validator.validate()

    clock.advance(minutes=-9)

    assert validator.validate().status is LicenseStatus.VALID


def test_clock_before_license_issue_is_refused(
    validator: LicenseValidator, clock: FakeClock
) -> None:
    """The issue time is a floor even without any stored state."""
    clock.advance(days=-2)

    with pytest.raises(ClockTamperError):
        validator.validate()


def test_clock_set_back_is_caught_across_restarts(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    state_path = tmp_path / "last-seen"
    clock.advance(days=370)
    validator_for(license_for(), state_path=state_path).validate()

    clock.advance(days=-20)
    restarted = validator_for(license_for(), state_path=state_path)

    with pytest.raises(ClockTamperError):
        restarted.validate()


def test_tampered_last_seen_file_is_detected(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    state_path = tmp_path / "last-seen"
    clock.advance(days=370)
    validator_for(license_for(), state_path=state_path).validate()
    state_path.write_text(state_path.read_text().replace("2026", "2025"))

    with pytest.raises(LastSeenTamperedError):
        validator_for(license_for(), state_path=state_path).validate()


def test_node_locked_license_needs_a_certificate(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
) -> None:
    with pytest.raises(ActivationRequiredError):
        validator_for(license_for(node_locked=True)).validate()


def test_node_locked_license_with_certificate_is_valid(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
    signing_key: SigningKey,
    machine: Fingerprint,
) -> None:
    certificate = _certificate(signing_key, machine)
    validator = validator_for(
        license_for(node_locked=True), certificate_text=certificate
    )

    result = validator.validate()

    assert result.certificate is not None
    assert result.certificate.fingerprint == machine


def test_certificate_copied_to_another_machine_is_refused(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
    signing_key: SigningKey,
    machine: Fingerprint,
    other_machine: Fingerprint,
) -> None:
    validator = validator_for(
        license_for(node_locked=True),
        certificate_text=_certificate(signing_key, machine),
        fingerprint=other_machine,
    )

    with pytest.raises(MachineMismatchError):
        validator.validate()


def test_install_replaces_an_expired_license(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
    clock: FakeClock,
) -> None:
    validator = validator_for(license_for())
    clock.advance(days=400)
    assert validator.revalidate() is None

    renewed = license_for(expires_at=START + timedelta(days=730))
    result = validator.install(renewed)

    assert result.status is LicenseStatus.VALID
    assert validator.has_feature("reports")


def test_validator_reads_installed_files(
    keyring: KeyRing,
    license_for: Callable[..., str],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    path = tmp_path / "orbit.license"
    write_license_file(path, license_for())

    validator = LicenseValidator.from_files(
        keyring, PRODUCT, path, tmp_path / "absent.cert", now=clock
    )

    assert validator.validate().document.license_id == "lic-0001"


async def test_periodic_revalidation_turns_features_off(
    validator: LicenseValidator, clock: FakeClock
) -> None:
    validator.validate()
    clock.advance(days=400)
    results: list[ValidationResult | None] = []
    revalidated = asyncio.Event()

    def record(result: ValidationResult | None) -> None:
        results.append(result)
        revalidated.set()

    task = asyncio.create_task(run_revalidation(validator, 0.001, on_result=record))
    await asyncio.wait_for(revalidated.wait(), timeout=5)
    task.cancel()

    assert results[0] is None
    assert not validator.has_feature("reports")
    with pytest.raises(asyncio.CancelledError):
        await task


def test_validator_without_state_path_warns(
    validator_for: Callable[..., LicenseValidator], license_for: Callable[..., str]
) -> None:
    with capture_logs() as logs:
        validator_for(license_for())

    assert [entry["event"] for entry in logs] == ["licensing.clock_state_missing"]
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["product"] == "orbit"


def test_validator_with_state_path_does_not_warn(
    validator_for: Callable[..., LicenseValidator],
    license_for: Callable[..., str],
    tmp_path: Path,
) -> None:
    with capture_logs() as logs:
        validator_for(license_for(), state_path=tmp_path / "last-seen").validate()

    assert logs == []
