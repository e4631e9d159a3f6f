"""Token parsing and key loading, including the RFC 7520 JWS examples."""

from __future__ import annotations

import json

import jwt
import pytest

from eaf.security.claims import InvalidTokenError, read_unverified, rsa_key_from_jwk
from tests.support.cases import shared_cases

CASES = shared_cases() / "jose"


def load(name: str) -> dict[str, object]:
    return dict(json.loads((CASES / name).read_text()))


@pytest.fixture
def rfc7520() -> tuple[dict[str, object], str]:
    example = load("jws/4_1.rsa_v15_signature.json")
    compact = str(example["output"]["compact"])  # type: ignore[index]
    return load("jwk/3_3.rsa_public_key.json"), compact


def test_rfc7520_rs256_example_verifies_with_loaded_key(
    rfc7520: tuple[dict[str, object], str],
) -> None:
    jwk, compact = rfc7520

    payload = jwt.api_jws.PyJWS().decode(
        compact, rsa_key_from_jwk(jwk), algorithms=["RS256"]
    )

    assert payload.startswith(b"It\xe2\x80\x99s a dangerous business")


def test_rfc7520_example_fails_once_one_byte_changes(
    rfc7520: tuple[dict[str, object], str],
) -> None:
    jwk, compact = rfc7520
    header, payload, signature = compact.split(".")
    changed = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.api_jws.PyJWS().decode(
            f"{header}.{changed}.{signature}",
            rsa_key_from_jwk(jwk),
            algorithms=["RS256"],
        )


def test_signed_jws_that_is_no_token_is_refused(
    rfc7520: tuple[dict[str, object], str],
) -> None:
    with pytest.raises(InvalidTokenError):
        read_unverified(rfc7520[1])


def test_id_token_type_is_refused_as_access_token() -> None:
    header = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    encoded = [
        jwt.utils.base64url_encode(json.dumps(part).encode()).decode()
        for part in (header, {"sub": "x"})
    ]

    with pytest.raises(InvalidTokenError, match="token type"):
        read_unverified(".".join([*encoded, "c2ln"]))


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.", "W10.e30.sig"],
    ids=["empty", "two-parts", "four-parts", "bad-base64", "no-alg", "array-header"],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        read_unverified(token)


def test_non_rsa_keys_are_refused() -> None:
    with pytest.raises(InvalidTokenError):
        rsa_key_from_jwk({"kty": "oct", "k": "c2VjcmV0"})
    with pytest.raises(InvalidTokenError):
        rsa_key_from_jwk({"kty": "RSA", "alg": "RS512", "n": "AQAB", "e": "AQAB"})
