"""Signing keys: rotation keeps old files valid, revocation ends them."""

from __future__ import annotations

import pytest

from eaf.db.pool import Database
from eaf.licensing import (
    KeyStatus,
    RevokedKeyError,
    SigningKeyError,
    SigningKeyStateError,
    verify_license,
)
from eaf.licensing.application import Licensing, licensing_key_secret
from eaf.licensing.signing import SigningKey
from tests.integration.licensing.conftest import FLOATING, SECRET, VENDOR


async def test_retired_key_still_verifies_its_licenses(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)
    old_file = await catalog.licenses.license_file(license_.license_id)

    rotated = await catalog.keys.generate_key()
    new_file = await catalog.licenses.license_file(license_.license_id)

    keyring = await catalog.keys.keyring()
    old = verify_license(old_file, keyring)
    assert keyring.get(old.document.key_id).status is KeyStatus.RETIRED
    assert rotated["retired"] == old.document.key_id
    assert verify_license(new_file, keyring).document.key_id == rotated["kid"]


async def test_revoked_key_licenses_no_longer_verify(catalog: Licensing) -> None:
    license_ = await catalog.licenses.issue("acme", FLOATING)
    old_file = await catalog.licenses.license_file(license_.license_id)
    old_kid = (await catalog.keys.keyring()).active_keys[0].kid
    await catalog.keys.generate_key()

    await catalog.keys.revoke_key(old_kid, "leaked")

    keyring = await catalog.keys.keyring()
    with pytest.raises(RevokedKeyError):
        verify_license(old_file, keyring)
    reissued = await catalog.licenses.license_file(license_.license_id)
    assert verify_license(reissued, keyring).document.key_id != old_kid


async def test_published_keys_keep_retired_and_revoked(catalog: Licensing) -> None:
    first = (await catalog.keys.keyring()).active_keys[0].kid
    second = (await catalog.keys.generate_key())["kid"]
    await catalog.keys.generate_key()
    await catalog.keys.revoke_key(first, "leaked")

    jwks = await catalog.keys.published_keys()

    statuses = {jwk["kid"]: jwk["status"] for jwk in jwks["keys"]}
    assert statuses[first] == "revoked"
    assert statuses[second] == "retired"
    assert list(statuses.values()).count("active") == 1
    assert all("d" not in jwk for jwk in jwks["keys"])


async def test_private_keys_are_encrypted_at_rest(
    catalog: Licensing, db: Database
) -> None:
    async with db.transaction(VENDOR) as conn:
        cur = await conn.execute("SELECT private_key FROM licensing_signing_keys")
        row = await cur.fetchone()
    assert row is not None
    pem = bytes(row["private_key"])

    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert SigningKey.from_encrypted_pem(pem, SECRET).kid
    with pytest.raises(SigningKeyError):
        SigningKey.from_encrypted_pem(pem, b"another-secret-of-some-length")


async def test_signing_without_active_key_is_refused(licensing: Licensing) -> None:
    key = await licensing.keys.generate_key()
    await licensing.keys.revoke_key(key["kid"], "leaked")

    with pytest.raises(SigningKeyStateError, match="no active"):
        await licensing.keys.active_key()


async def test_revoking_twice_is_a_conflict(licensing: Licensing) -> None:
    key = await licensing.keys.generate_key()
    await licensing.keys.revoke_key(key["kid"], "leaked")

    with pytest.raises(SigningKeyStateError, match="already revoked"):
        await licensing.keys.revoke_key(key["kid"], "again")


def test_key_secret_prefers_the_environment() -> None:
    environ = {"EAF_LICENSING_KEY_SECRET": "s" * 20}

    assert licensing_key_secret(b"platform", environ) == b"s" * 20
    assert licensing_key_secret(b"platform", {}) == b"platform"
