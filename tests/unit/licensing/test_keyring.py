"""Key rotation and the published key set."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from eaf.licensing import (
    KeyRing,
    KeyStatus,
    LicenseFormatError,
    RevokedKeyError,
    SigningKey,
    UnknownKeyError,
    sign_license,
    verify_license,
)

from .conftest import make_document


def _rotated_ring(old: SigningKey, new: SigningKey) -> KeyRing:
    ring = KeyRing()
    ring.add(old.public_key)
    ring.add(new.public_key)
    ring.retire(old.kid)
    return ring


def test_license_of_retired_key_still_verifies() -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    token = sign_license(make_document(old), old)
    ring = _rotated_ring(old, new)

    verified = verify_license(token, ring)

    assert verified.document.key_id == old.kid
    assert [key.kid for key in ring.active_keys] == [new.kid]


def test_license_of_revoked_key_is_refused() -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    token = sign_license(make_document(old), old)
    ring = _rotated_ring(old, new)

    ring.revoke(old.kid)

    with pytest.raises(RevokedKeyError):
        verify_license(token, ring)


def test_license_of_new_key_verifies_after_rotation() -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    ring = _rotated_ring(old, new)

    verified = verify_license(sign_license(make_document(new), new), ring)

    assert verified.document.key_id == new.kid


def test_license_of_unpinned_key_is_refused(keyring: KeyRing) -> None:
    stranger = SigningKey.generate()

    with pytest.raises(UnknownKeyError):
        verify_license(sign_license(make_document(stranger), stranger), keyring)


def test_revoked_key_cannot_be_retired_again(signing_key: SigningKey) -> None:
    ring = KeyRing()
    ring.add(signing_key.public_key)
    ring.revoke(signing_key.kid)

    with pytest.raises(RevokedKeyError):
        ring.retire(signing_key.kid)


def test_jwks_round_trip_keeps_kids_and_status() -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    ring = _rotated_ring(old, new)

    copy = KeyRing.from_jwks(json.dumps(ring.to_jwks()))

    assert [(key.kid, key.status) for key in copy] == [
        (old.kid, KeyStatus.RETIRED),
        (new.kid, KeyStatus.ACTIVE),
    ]


def test_jwks_publishes_okp_keys_with_status(signing_key: SigningKey) -> None:
    ring = KeyRing()
    ring.add(signing_key.public_key)

    (jwk,) = ring.to_jwks()["keys"]

    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["kid"] == signing_key.kid
    assert jwk["status"] == "active"
    assert "d" not in jwk


def test_jwks_with_unknown_status_is_refused(signing_key: SigningKey) -> None:
    ring = KeyRing()
    ring.add(signing_key.public_key)
    jwks = ring.to_jwks()
    jwks["keys"][0]["status"] = "maybe"

    with pytest.raises(LicenseFormatError):
        KeyRing.from_jwks(jwks)


def test_keyring_refuses_duplicate_kid(signing_key: SigningKey) -> None:
    ring = KeyRing()
    ring.add(signing_key.public_key)

    with pytest.raises(LicenseFormatError):
        ring.add(SigningKey.generate().public_key, kid=signing_key.kid)


def test_retired_key_verifies_existing_files(
    keyring: KeyRing, signing_key: SigningKey, license_for: Callable[..., str]
) -> None:
    token = license_for()

    keyring.retire(signing_key.kid)

    assert verify_license(token, keyring).document.license_id == "lic-0001"
