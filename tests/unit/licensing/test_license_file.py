"""License files: round trip, and refusal of every single-byte change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eaf.licensing import (
    KeyRing,
    LicenseDocument,
    LicenseFormatError,
    LicenseSignatureError,
    LicensingError,
    SigningKey,
    read_license_file,
    sign_license,
    verify_license,
    write_license_file,
)
from eaf.licensing.activation import CERTIFICATE_TYP
from eaf.licensing.domain._codec import canonical_json
from eaf.licensing.signing import parse_jws, sign_compact

from .conftest import make_document

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _next_alphabet_byte(byte: int) -> int:
    """Another base64url character, so the change survives the alphabet check."""
    if byte not in _ALPHABET:
        return _ALPHABET[0]
    return _ALPHABET[(_ALPHABET.index(byte) + 1) % len(_ALPHABET)]


def _verify_bytes(data: bytes, keyring: KeyRing) -> None:
    verify_license(data.decode("utf-8", errors="strict"), keyring)


@pytest.fixture
def license_bytes(
    tmp_path: Path, license_for: Callable[..., str]
) -> tuple[bytes, Path]:
    path = tmp_path / "orbit.license"
    write_license_file(path, license_for())
    return path.read_bytes(), path


def test_license_round_trips_through_a_file(
    license_bytes: tuple[bytes, Path], keyring: KeyRing, signing_key: SigningKey
) -> None:
    _, path = license_bytes

    verified = verify_license(read_license_file(path), keyring)

    assert verified.document == make_document(signing_key)


def test_license_file_is_compact_jws_and_a_line_feed(
    license_bytes: tuple[bytes, Path], signing_key: SigningKey
) -> None:
    data, _ = license_bytes
    jws = parse_jws(data.decode())

    assert data.endswith(b"\n")
    assert data.count(b".") == 2
    assert jws.header == {
        "alg": "EdDSA",
        "kid": signing_key.kid,
        "typ": "eaf-license+jws",
    }
    assert jws.payload == canonical_json(make_document(signing_key).to_dict())


def _accepted_changes(
    data: bytes, keyring: KeyRing, replacements: Callable[[int], Iterable[int]]
) -> list[tuple[int, int]]:
    """Every (position, new byte) whose changed file still verifies."""
    accepted = []
    for position, byte in enumerate(data):
        for replacement in set(replacements(byte)) - {byte}:
            changed = data[:position] + bytes([replacement]) + data[position + 1 :]
            try:
                _verify_bytes(changed, keyring)
            except (LicensingError, UnicodeDecodeError):
                continue
            accepted.append((position, replacement))
    return accepted


def test_verify_rejects_tampered_byte_at_every_position(
    license_bytes: tuple[bytes, Path], keyring: KeyRing
) -> None:
    """Each position is changed twice: one bit flipped, and a base64url shift."""
    data, _ = license_bytes

    accepted = _accepted_changes(
        data, keyring, lambda byte: (byte ^ 0x01, _next_alphabet_byte(byte))
    )

    assert accepted == []


@pytest.mark.slow
def test_verify_rejects_every_byte_value_at_every_position(
    license_bytes: tuple[bytes, Path], keyring: KeyRing
) -> None:
    """All 255 other values at each position: about 175,000 changed files."""
    data, _ = license_bytes

    assert _accepted_changes(data, keyring, lambda byte: range(256)) == []


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), replacement=st.integers(0, 255))
def test_verify_rejects_tampered_byte_sampled(
    license_bytes: tuple[bytes, Path],
    keyring: KeyRing,
    position: int,
    replacement: int,
) -> None:
    data, _ = license_bytes
    position %= len(data)
    if data[position] == replacement:
        replacement ^= 0xFF
    changed = data[:position] + bytes([replacement]) + data[position + 1 :]

    with pytest.raises((LicensingError, UnicodeDecodeError)):
        _verify_bytes(changed, keyring)


def test_verify_rejects_appended_byte(
    license_bytes: tuple[bytes, Path], keyring: KeyRing
) -> None:
    data, _ = license_bytes

    for extra in (b"\n", b" ", b"A"):
        with pytest.raises(LicenseFormatError):
            _verify_bytes(data + extra, keyring)


def test_verify_rejects_license_signed_with_another_key(
    signing_key: SigningKey, keyring: KeyRing
) -> None:
    impostor = SigningKey(SigningKey.generate().private_key, signing_key.kid)

    with pytest.raises(LicenseSignatureError):
        verify_license(sign_license(make_document(signing_key), impostor), keyring)


def test_verify_rejects_machine_certificate_as_license(
    signing_key: SigningKey, keyring: KeyRing
) -> None:
    payload = canonical_json(make_document(signing_key).to_dict())

    with pytest.raises(LicenseFormatError, match="eaf-license"):
        verify_license(signing_key.sign(payload, typ=CERTIFICATE_TYP), keyring)


def test_verify_rejects_non_canonical_payload(
    signing_key: SigningKey, keyring: KeyRing
) -> None:
    payload = json.dumps(make_document(signing_key).to_dict()).encode()

    with pytest.raises(LicenseFormatError, match="canonical"):
        verify_license(signing_key.sign(payload, typ="eaf-license+jws"), keyring)


def test_verify_rejects_payload_naming_another_kid(
    signing_key: SigningKey, keyring: KeyRing
) -> None:
    document = make_document(signing_key, key_id="someone-else")
    payload = canonical_json(document.to_dict())
    header = {"kid": signing_key.kid, "typ": "eaf-license+jws"}

    token = sign_compact(payload, signing_key.private_key, header)

    with pytest.raises(LicenseSignatureError, match="kid"):
        verify_license(token, keyring)


def test_sign_refuses_document_of_another_key(signing_key: SigningKey) -> None:
    document = make_document(signing_key, key_id="someone-else")

    with pytest.raises(LicenseFormatError):
        sign_license(document, signing_key)


def test_document_ignores_unknown_members(signing_key: SigningKey) -> None:
    data = {**make_document(signing_key).to_dict(), "note": "from a later issuer"}

    assert LicenseDocument.from_dict(data) == make_document(signing_key)


def test_document_refuses_other_format(signing_key: SigningKey) -> None:
    data = {**make_document(signing_key).to_dict(), "format": "eaf-license/2"}

    with pytest.raises(LicenseFormatError):
        LicenseDocument.from_dict(data)
