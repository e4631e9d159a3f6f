"""Shared fixtures: keys, a controllable clock, documents and machines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eaf.licensing import (
    Fingerprint,
    KeyRing,
    LicenseDocument,
    LicenseValidator,
    SigningKey,
    sign_license,
)

PRODUCT = "orbit"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

MACHINE_VALUES = {
    "machine_id": "4c4c4544004d3510804bb4c04f503032",
    "dmi_uuid": "4c4c4544-004d-3510-804b-b4c04f503032",
    "mac": "52:54:00:12:34:56",
    "hostname": "plant-a-app01",
    "cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
}
OTHER_MACHINE_VALUES = {
    "machine_id": "9f1c2d3e4b5a69788796a5b4c3d2e1f0",
    "dmi_uuid": "9f1c2d3e-4b5a-6978-8796-a5b4c3d2e1f0",
    "mac": "52:54:00:aa:bb:cc",
    "hostname": "plant-b-app01",
    "cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def keyring(signing_key: SigningKey) -> KeyRing:
    ring = KeyRing()
    ring.add(signing_key.public_key)
    return ring


@pytest.fixture
def machine() -> Fingerprint:
    return Fingerprint.from_values(PRODUCT, MACHINE_VALUES)


@pytest.fixture
def other_machine() -> Fingerprint:
    return Fingerprint.from_values(PRODUCT, OTHER_MACHINE_VALUES)


def make_document(key: SigningKey, **changes: Any) -> LicenseDocument:
    """A one-year license for acme, starting at START, with 14 days of grace."""
    document = LicenseDocument(
        license_id="lic-0001",
        product=PRODUCT,
        customer="acme",
        issued_at=START,
        not_before=START,
        expires_at=START + timedelta(days=365),
        key_id=key.kid,
        grace_days=14,
        entitlements=frozenset({"reports", "sso"}),
        limits={"users": 50, "machines": 3},
    )
    return replace(document, **changes)


@pytest.fixture
def license_for(signing_key: SigningKey) -> Callable[..., str]:
    """Sign a document made by :func:`make_document` with ``changes``."""

    def sign(**changes: Any) -> str:
        return sign_license(make_document(signing_key, **changes), signing_key)

    return sign


@pytest.fixture
def validator_for(
    keyring: KeyRing, clock: FakeClock, machine: Fingerprint
) -> Callable[..., LicenseValidator]:
    def build(license_text: str, **options: Any) -> LicenseValidator:
        options = {"now": clock, "fingerprint": machine} | options
        return LicenseValidator(keyring, PRODUCT, license_text, **options)

    return build


@pytest.fixture
def validator(
    validator_for: Callable[..., LicenseValidator], license_for: Callable[..., str]
) -> LicenseValidator:
    return validator_for(license_for())
