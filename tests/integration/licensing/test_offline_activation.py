"""Offline activation: a request file in, a signed certificate file out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from eaf.licensing import (
    MachineMismatchError,
    read_activation_request,
    read_machine_certificate,
    verify_machine_certificate,
    write_activation_request,
    write_machine_certificate,
)
from eaf.licensing.application import Licensing
from tests.integration.licensing.conftest import (
    NODE_LOCKED,
    PRODUCT,
    machine,
    request_for,
)


async def test_offline_round_trip_through_files(
    catalog: Licensing, tmp_path: Path
) -> None:
    license_ = await catalog.licenses.issue("acme", NODE_LOCKED)
    request = request_for(license_.license_id, 7)
    write_activation_request(tmp_path / "request.json", request)

    received = read_activation_request(tmp_path / "request.json")
    result = await catalog.licenses.activate(received, offline=True)
    write_machine_certificate(tmp_path / "machine.cert", result.certificate)

    certificate = verify_machine_certificate(
        read_machine_certificate(tmp_path / "machine.cert"),
        await catalog.keys.keyring(),
        license_id=license_.license_id,
        product=PRODUCT,
        fingerprint=machine(7),
        now=datetime.now(UTC),
        expected_nonce=request.nonce,
    )
    assert certificate.expires_at is None
    assert certificate.activation_id == machine(7).id


async def test_offline_response_fails_on_another_machine(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", NODE_LOCKED)
    result = await catalog.licenses.activate(
        request_for(license_.license_id, 7), offline=True
    )

    with pytest.raises(MachineMismatchError):
        verify_machine_certificate(
            result.certificate,
            await catalog.keys.keyring(),
            license_id=license_.license_id,
            product=PRODUCT,
            fingerprint=machine(8),
            now=datetime.now(UTC),
        )


async def test_same_request_twice_uses_one_seat(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", NODE_LOCKED)
    request = request_for(license_.license_id, 7)

    first = await catalog.licenses.activate(request, offline=True)
    second = await catalog.licenses.activate(request, offline=True)

    stored = await catalog.licenses.get(license_.license_id)
    assert first.activation_id == second.activation_id
    assert stored.seats_used == 1
    assert stored.version == 2
