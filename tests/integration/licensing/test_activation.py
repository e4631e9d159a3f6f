"""Online activation: seats held under concurrency, freed on deactivation."""

from __future__ import annotations

import asyncio

import pytest

from eaf.db.pool import Database
from eaf.licensing import (
    LicenseNotFoundError,
    LicenseStateError,
    SeatLimitExceededError,
    verify_machine_certificate,
)
from eaf.licensing.application import ActivationResult, Licensing
from tests.integration.licensing.conftest import (
    FLOATING,
    PRODUCT,
    VENDOR,
    machine,
    request_for,
)


async def seat_rows(db: Database, license_id: str) -> int:
    async with db.transaction(VENDOR) as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM licensing_seats WHERE license_id = %s",
            (license_id,),
        )
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def test_fifty_concurrent_activations_take_ten_seats(
    catalog: Licensing, db: Database
) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)

    async def activate(number: int) -> ActivationResult:
        request = request_for(license_.license_id, number)
        return await catalog.licenses.activate(request, as_customer="acme")

    outcomes = await asyncio.gather(
        *(activate(number) for number in range(50)), return_exceptions=True
    )

    succeeded = [item for item in outcomes if isinstance(item, ActivationResult)]
    refused = [item for item in outcomes if not isinstance(item, ActivationResult)]
    assert len(succeeded) == 10
    assert all(isinstance(item, SeatLimitExceededError) for item in refused)
    assert len({result.activation_id for result in succeeded}) == 10
    assert await seat_rows(db, license_.license_id) == 10
    stored = await catalog.licenses.get(license_.license_id)
    assert stored.seats_used == 10


async def test_online_certificate_verifies_and_expires(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)

    result = await catalog.licenses.activate(request_for(license_.license_id, 1))

    keyring = await catalog.keys.keyring()
    certificate = verify_machine_certificate(
        result.certificate,
        keyring,
        license_id=license_.license_id,
        product=PRODUCT,
        fingerprint=machine(1),
        now=license_.issued_at,
    )
    assert certificate.expires_at == result.expires_at
    assert result.expires_at is not None


async def test_deactivation_frees_the_seat(catalog: Licensing, db: Database) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)
    results = [
        await catalog.licenses.activate(request_for(license_.license_id, number))
        for number in range(10)
    ]
    with pytest.raises(SeatLimitExceededError):
        await catalog.licenses.activate(request_for(license_.license_id, 10))

    await catalog.licenses.deactivate(
        license_.license_id, results[0].activation_id, as_customer="acme"
    )
    await catalog.licenses.activate(request_for(license_.license_id, 10))

    assert await seat_rows(db, license_.license_id) == 10


async def test_customer_cannot_activate_another_customers_license(
    catalog: Licensing,
) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)

    with pytest.raises(LicenseNotFoundError):
        await catalog.licenses.activate(
            request_for(license_.license_id, 1), as_customer="globex"
        )


async def test_suspended_license_refuses_activation(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)
    await catalog.licenses.suspend(license_.license_id, "unpaid invoice")

    with pytest.raises(LicenseStateError):
        await catalog.licenses.activate(request_for(license_.license_id, 1))
