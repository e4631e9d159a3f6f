"""Offline activation: request file, signed response, installation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from eaf.licensing import (
    ActivationExpiredError,
    ActivationRequest,
    Fingerprint,
    KeyRing,
    License,
    LicenseFormatError,
    LicenseSignatureError,
    MachineMismatchError,
    Policy,
    ProductMismatchError,
    SigningKey,
    certificate_path_for,
    install_machine_certificate,
    issue_machine_certificate,
    read_activation_request,
    read_machine_certificate,
    verify_machine_certificate,
    write_activation_request,
    write_license_file,
    write_machine_certificate,
)

from .conftest import MACHINE_VALUES, OTHER_MACHINE_VALUES, PRODUCT, START


@pytest.fixture
def license_() -> License:
    policy = Policy("locked", duration_days=365, node_locked=True)
    return License.issue(
        "lic-0001", product=PRODUCT, customer="acme", policy=policy, at=START
    )


def _request(fingerprint: Fingerprint) -> ActivationRequest:
    return ActivationRequest.create("lic-0001", PRODUCT, fingerprint, now=START)


def _verify(text: str, keyring: KeyRing, fingerprint: Fingerprint) -> None:
    verify_machine_certificate(
        text,
        keyring,
        license_id="lic-0001",
        product=PRODUCT,
        fingerprint=fingerprint,
        now=START,
    )


def test_offline_round_trip_through_files(
    tmp_path: Path,
    license_: License,
    signing_key: SigningKey,
    keyring: KeyRing,
    machine: Fingerprint,
) -> None:
    request_path = tmp_path / "activation-request.json"
    response_path = tmp_path / "machine.cert"
    request = _request(machine)

    write_activation_request(request_path, request)
    received = read_activation_request(request_path)
    token = issue_machine_certificate(license_, received, signing_key, now=START)
    write_machine_certificate(response_path, token)
    certificate = verify_machine_certificate(
        read_machine_certificate(response_path),
        keyring,
        license_id="lic-0001",
        product=PRODUCT,
        fingerprint=machine,
        now=START,
        expected_nonce=request.nonce,
    )

    assert received == request
    assert certificate.fingerprint == machine
    assert certificate.activation_id in license_.activations


def test_request_file_carries_no_raw_component_values(
    tmp_path: Path, machine: Fingerprint
) -> None:
    path = tmp_path / "request.json"

    write_activation_request(path, _request(machine))

    assert "plant-a-app01" not in path.read_text()
    assert '"format": "eaf-activation-request/1"' in path.read_text()


def test_response_replayed_on_another_machine_fails(
    license_: License,
    signing_key: SigningKey,
    keyring: KeyRing,
    machine: Fingerprint,
    other_machine: Fingerprint,
) -> None:
    token = issue_machine_certificate(
        license_, _request(machine), signing_key, now=START
    )

    with pytest.raises(MachineMismatchError, match="another machine"):
        _verify(token, keyring, other_machine)


def test_response_for_another_license_fails(
    signing_key: SigningKey, keyring: KeyRing, machine: Fingerprint
) -> None:
    other = License.issue(
        "lic-0002", product=PRODUCT, customer="acme", policy=Policy("p"), at=START
    )
    request = ActivationRequest.create("lic-0002", PRODUCT, machine, now=START)
    token = issue_machine_certificate(other, request, signing_key, now=START)

    with pytest.raises(MachineMismatchError, match="lic-0002"):
        _verify(token, keyring, machine)


def test_same_request_twice_yields_same_activation(
    license_: License, signing_key: SigningKey, keyring: KeyRing, machine: Fingerprint
) -> None:
    request = _request(machine)

    first = issue_machine_certificate(license_, request, signing_key, now=START)
    later = START + timedelta(hours=1)
    second = issue_machine_certificate(license_, request, signing_key, now=later)

    ids = {
        verify_machine_certificate(
            token,
            keyring,
            license_id="lic-0001",
            product=PRODUCT,
            fingerprint=machine,
            now=later,
        ).activation_id
        for token in (first, second)
    }
    assert len(ids) == 1
    assert license_.seats_used == 1
    assert len(license_.collect_events()) == 2  # issued, one activation


def test_repeated_request_after_replay_keeps_one_seat(
    license_: License, signing_key: SigningKey, machine: Fingerprint
) -> None:
    """The second request reaches a license rebuilt from stored events."""
    request = _request(machine)
    issue_machine_certificate(license_, request, signing_key, now=START)
    rebuilt = License.from_events(license_.collect_events())

    issue_machine_certificate(rebuilt, request, signing_key, now=START)

    assert rebuilt.seats_used == 1
    assert rebuilt.pending_events == ()


def test_response_with_other_nonce_is_refused(
    license_: License, signing_key: SigningKey, keyring: KeyRing, machine: Fingerprint
) -> None:
    token = issue_machine_certificate(
        license_, _request(machine), signing_key, now=START
    )

    with pytest.raises(MachineMismatchError, match="another activation request"):
        verify_machine_certificate(
            token,
            keyring,
            license_id="lic-0001",
            product=PRODUCT,
            fingerprint=machine,
            now=START,
            expected_nonce=_request(machine).nonce,
        )


def test_certificate_expires_with_its_own_lifetime(
    license_: License, signing_key: SigningKey, keyring: KeyRing, machine: Fingerprint
) -> None:
    token = issue_machine_certificate(
        license_,
        _request(machine),
        signing_key,
        now=START,
        valid_for=timedelta(days=7),
    )

    with pytest.raises(ActivationExpiredError):
        verify_machine_certificate(
            token,
            keyring,
            license_id="lic-0001",
            product=PRODUCT,
            fingerprint=machine,
            now=START + timedelta(days=7),
        )


def test_tampered_certificate_is_refused(
    license_: License, signing_key: SigningKey, keyring: KeyRing, machine: Fingerprint
) -> None:
    token = issue_machine_certificate(
        license_, _request(machine), signing_key, now=START
    )
    header, payload, signature = token.split(".")
    flipped = "A" if payload[10] != "A" else "B"
    forged = f"{header}.{payload[:10]}{flipped}{payload[11:]}.{signature}"

    with pytest.raises(LicenseSignatureError):
        _verify(forged, keyring, machine)


def test_service_refuses_request_for_other_product(
    license_: License, signing_key: SigningKey, machine: Fingerprint
) -> None:
    request = ActivationRequest.create("lic-0001", "nebula", machine, now=START)

    with pytest.raises(ProductMismatchError):
        issue_machine_certificate(license_, request, signing_key, now=START)


def test_request_with_forged_fingerprint_id_is_refused(machine: Fingerprint) -> None:
    text = _request(machine).to_json().replace(machine.id, "forged-id")

    with pytest.raises(LicenseFormatError):
        ActivationRequest.from_json(text)


def _installed_license(tmp_path: Path, license_for: Callable[..., str]) -> Path:
    path = tmp_path / "orbit.license"
    write_license_file(path, license_for(node_locked=True))
    return path


def test_install_writes_certificate_beside_license(
    tmp_path: Path,
    license_: License,
    signing_key: SigningKey,
    keyring: KeyRing,
    machine: Fingerprint,
    license_for: Callable[..., str],
) -> None:
    license_path = _installed_license(tmp_path, license_for)
    token = issue_machine_certificate(
        license_, _request(machine), signing_key, now=START
    )

    write_machine_certificate(tmp_path / "response.cert", token)
    response = read_machine_certificate(tmp_path / "response.cert")

    certificate = install_machine_certificate(
        response, license_path, keyring, now=START, values=MACHINE_VALUES
    )

    installed = certificate_path_for(license_path)
    assert installed == tmp_path / "orbit.license.cert"
    assert read_machine_certificate(installed) == f"{token}\n"
    assert certificate.activation_id == machine.id


def test_install_refuses_another_machine_and_writes_nothing(
    tmp_path: Path,
    license_: License,
    signing_key: SigningKey,
    keyring: KeyRing,
    machine: Fingerprint,
    license_for: Callable[..., str],
) -> None:
    license_path = _installed_license(tmp_path, license_for)
    token = issue_machine_certificate(
        license_, _request(machine), signing_key, now=START
    )

    with pytest.raises(MachineMismatchError, match="another machine"):
        install_machine_certificate(
            token, license_path, keyring, now=START, values=OTHER_MACHINE_VALUES
        )

    assert not certificate_path_for(license_path).exists()


def test_install_refuses_a_license_as_certificate(
    tmp_path: Path, keyring: KeyRing, license_for: Callable[..., str]
) -> None:
    license_path = _installed_license(tmp_path, license_for)

    with pytest.raises(LicenseFormatError, match="eaf-machine"):
        install_machine_certificate(
            license_for(), license_path, keyring, now=START, values=MACHINE_VALUES
        )
