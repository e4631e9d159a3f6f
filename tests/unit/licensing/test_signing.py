"""Ed25519 JWS signing and keys, checked against RFC 8037."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eaf.errors import ConfigurationError
from eaf.licensing import (
    LicenseFormatError,
    LicenseSignatureError,
    SigningKey,
    SigningKeyError,
)
from eaf.licensing.domain._codec import b64url_decode, b64url_encode
from eaf.licensing.signing import (
    key_id_for,
    key_secret_from_env,
    parse_jws,
    private_key_from_jwk,
    public_jwk,
    public_key_from_jwk,
    read_signing_key,
    sign_compact,
    verify_signature,
    write_signing_key,
)
from tests.support.cases import shared_cases

CASES = shared_cases() / "jose"


@pytest.fixture(scope="module")
def rfc8037() -> dict[str, Any]:
    """RFC 8037's Ed25519 example (see SOURCE.md beside it)."""
    assert "RFC 8037" in (CASES / "SOURCE.md").read_text()
    vector: dict[str, Any] = json.loads((CASES / "curve25519/jws.json").read_text())
    return vector


def test_sign_reproduces_rfc8037_signature(rfc8037: dict[str, Any]) -> None:
    private_key = private_key_from_jwk(rfc8037["input"]["key"])
    payload = rfc8037["input"]["payload"].encode()

    token = sign_compact(payload, private_key, rfc8037["signing"]["protected"])

    assert token == rfc8037["output"]["compact"]
    assert token.rsplit(".", 1)[1] == rfc8037["signing"]["sig"]


def test_verify_accepts_rfc8037_compact_and_flattened(
    rfc8037: dict[str, Any],
) -> None:
    public_key = public_key_from_jwk(rfc8037["input"]["key"])
    flattened = json.dumps(rfc8037["output"]["json_flat"])

    for text in (rfc8037["output"]["compact"], flattened):
        jws = parse_jws(text)
        verify_signature(jws, public_key)
        assert jws.payload == rfc8037["input"]["payload"].encode()


def test_verify_rejects_rfc8037_with_changed_payload(
    rfc8037: dict[str, Any],
) -> None:
    public_key = public_key_from_jwk(rfc8037["input"]["key"])
    protected, _, signature = rfc8037["output"]["compact"].split(".")
    forged = f"{protected}.{b64url_encode(b'Example of Ed25519 signinG')}.{signature}"

    with pytest.raises(LicenseSignatureError):
        verify_signature(parse_jws(forged), public_key)


def test_key_id_is_rfc8037_thumbprint(rfc8037: dict[str, Any]) -> None:
    """The thumbprint RFC 8037 gives in appendix A.3 for its example key."""
    public_key = public_key_from_jwk(rfc8037["input"]["key"])

    assert key_id_for(public_key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_verify_rejects_signature_of_another_key() -> None:
    token = SigningKey.generate().sign(b"{}", typ="test")

    with pytest.raises(LicenseSignatureError):
        verify_signature(parse_jws(token), SigningKey.generate().public_key)


def test_verify_rejects_algorithm_none() -> None:
    key = SigningKey.generate()
    _, payload, signature = key.sign(b"{}", typ="test").split(".")
    header = b64url_encode(b'{"alg":"none"}')

    with pytest.raises(LicenseSignatureError, match="algorithm"):
        verify_signature(parse_jws(f"{header}.{payload}.{signature}"), key.public_key)


def test_verify_rejects_critical_header() -> None:
    key = SigningKey.generate()
    token = sign_compact(b"{}", key.private_key, {"crit": ["exp"], "exp": 1})

    with pytest.raises(LicenseSignatureError, match="critical"):
        verify_signature(parse_jws(token), key.public_key)


@pytest.mark.parametrize("text", ["QQ=", "QR", "Q", "Q+", "Q Q"])
def test_b64url_decode_rejects_non_canonical_text(text: str) -> None:
    with pytest.raises(LicenseFormatError):
        b64url_decode(text)


def test_parse_rejects_unprotected_header_member() -> None:
    jws = parse_jws(SigningKey.generate().sign(b"{}", typ="test"))
    flattened = {**jws.to_flattened(), "header": {"kid": "other"}}

    with pytest.raises(LicenseFormatError):
        parse_jws(json.dumps(flattened))


def test_parse_jws_reads_its_own_flattened_form() -> None:
    jws = parse_jws(SigningKey.generate().sign(b'{"a":1}', typ="test"))

    assert parse_jws(json.dumps(jws.to_flattened())) == jws


def test_jwk_round_trip_keeps_the_key() -> None:
    key = SigningKey.generate()

    jwk = public_jwk(key.public_key)

    assert jwk["kid"] == key.kid
    assert key_id_for(public_key_from_jwk(jwk)) == key.kid


def test_private_jwk_with_foreign_x_is_refused(rfc8037: dict[str, Any]) -> None:
    other_x = public_jwk(SigningKey.generate().public_key)["x"]

    with pytest.raises(LicenseFormatError):
        private_key_from_jwk({**rfc8037["input"]["key"], "x": other_x})


def test_signing_key_file_is_encrypted_and_private(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "signing.pem"

    write_signing_key(path, key, b"correct horse battery")

    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_signing_key(path, b"correct horse battery").kid == key.kid


def test_signing_key_refuses_wrong_secret(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    write_signing_key(path, SigningKey.generate(), b"correct horse battery")

    with pytest.raises(SigningKeyError, match="cannot decrypt"):
        read_signing_key(path, b"wrong horse battery")


def test_key_secret_comes_from_environment() -> None:
    environ = {"EAF_LICENSING_KEY_SECRET": "s3cret-at-least-16"}

    assert key_secret_from_env(environ) == b"s3cret-at-least-16"


@pytest.mark.parametrize("environ", [{}, {"EAF_LICENSING_KEY_SECRET": "short"}])
def test_key_secret_refuses_missing_or_short(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        key_secret_from_env(environ)
