"""Ed25519 keys and JWS signatures (RFC 7515 with RFC 8037's EdDSA).

Only what EAF's signed files need: a protected header, ``alg: EdDSA``, compact
or flattened JSON serialisation, and strict parsing. Keys are identified by
their RFC 7638 thumbprint.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from eaf.errors import ConfigurationError
from eaf.licensing._files import write_atomically
from eaf.licensing.domain import _codec
from eaf.licensing.domain.errors import (
    LicenseFormatError,
    LicenseSignatureError,
    SigningKeyError,
)

ALGORITHM = "EdDSA"
KEY_SECRET_ENV = "EAF_LICENSING_KEY_SECRET"  # noqa: S105 - a variable name
_MIN_SECRET_LENGTH = 16
_FLATTENED_MEMBERS = {"protected", "payload", "signature"}

encode = _codec.b64url_encode


@dataclass(frozen=True)
class JWS:
    """A parsed, not yet verified, JWS with a protected header only."""

    header: Mapping[str, Any]
    payload: bytes
    signature: bytes
    signing_input: bytes

    def to_flattened(self) -> dict[str, str]:
        """The flattened JSON serialisation of this JWS."""
        protected, payload = self.signing_input.decode("ascii").split(".")
        signature = encode(self.signature)
        return {"protected": protected, "payload": payload, "signature": signature}


def sign_compact(
    payload: bytes, private_key: Ed25519PrivateKey, header: Mapping[str, Any]
) -> str:
    """Sign ``payload`` and return the compact JWS.

    The header is serialised as canonical JSON; ``alg`` is set to EdDSA.
    """
    if header.get("alg", ALGORITHM) != ALGORITHM:
        raise LicenseFormatError(f"only {ALGORITHM} signatures are produced")
    protected = encode(_codec.canonical_json({**header, "alg": ALGORITHM}))
    signing_input = f"{protected}.{encode(payload)}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{encode(signature)}"


def _build_jws(protected: str, payload: str, signature: str) -> JWS:
    header = _codec.parse_json_object(_codec.b64url_decode(protected))
    return JWS(
        header=header,
        payload=_codec.b64url_decode(payload),
        signature=_codec.b64url_decode(signature),
        signing_input=f"{protected}.{payload}".encode("ascii"),
    )


def parse_compact(token: str) -> JWS:
    """Split and decode a compact JWS without verifying it."""
    segments = token.split(".")
    if len(segments) != 3:
        raise LicenseFormatError("a compact JWS has exactly three segments")
    return _build_jws(*segments)


def parse_flattened(data: Mapping[str, Any]) -> JWS:
    """Decode a flattened JSON JWS; an unprotected ``header`` is refused."""
    if set(data) != _FLATTENED_MEMBERS:
        raise LicenseFormatError(
            "a flattened JWS needs exactly protected, payload and signature"
        )
    members = [data[name] for name in ("protected", "payload", "signature")]
    if not all(isinstance(member, str) for member in members):
        raise LicenseFormatError("flattened JWS members must be strings")
    return _build_jws(*members)


def parse_jws(text: str) -> JWS:
    """Decode a signed file: compact or flattened JSON, one final LF allowed."""
    body = text.removesuffix("\n")
    if body.startswith("{"):
        return parse_flattened(_codec.parse_json_object(body))
    return parse_compact(body)


def verify_signature(jws: JWS, public_key: Ed25519PublicKey) -> None:
    """Check the header rules and the signature of ``jws``.

    Raises:
        LicenseSignatureError: wrong algorithm, critical extensions, or a
            signature that does not verify with ``public_key``.
    """
    if jws.header.get("alg") != ALGORITHM:
        raise LicenseSignatureError(f"algorithm must be {ALGORITHM}")
    if "crit" in jws.header:
        raise LicenseSignatureError("critical header extensions are not supported")
    try:
        public_key.verify(jws.signature, jws.signing_input)
    except InvalidSignature as exc:
        raise LicenseSignatureError("signature does not verify") from exc


def decode_payload(jws: JWS) -> dict[str, Any]:
    """The payload as a canonical JSON object whose ``kid`` matches the header.

    Only one spelling of a document is accepted, so what a reader sees is
    byte for byte what the issuer serialised. The header's kid chose the
    verifying key, so the payload may not claim a different one.
    """
    payload = _codec.parse_json_object(jws.payload)
    if _codec.canonical_json(payload) != jws.payload:
        raise LicenseFormatError("the payload is not canonical JSON")
    if payload.get("kid") != jws.header.get("kid"):
        raise LicenseSignatureError("payload kid differs from the header kid")
    return payload


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of an Ed25519 public key."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": encode(_raw_public(public_key))}
    return encode(hashlib.sha256(_codec.canonical_json(members)).digest())


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def public_jwk(public_key: Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    """The public key as an OKP JWK (RFC 8037) with ``kid``, ``alg`` and ``use``."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": encode(_raw_public(public_key)),
        "kid": kid or key_id_for(public_key),
        "alg": ALGORITHM,
        "use": "sig",
    }


def _jwk_bytes(jwk: Mapping[str, Any], member: str) -> bytes:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise LicenseFormatError("only OKP keys on Ed25519 are supported")
    raw = _codec.b64url_decode(_codec.get_str(jwk, member))
    if len(raw) != 32:
        raise LicenseFormatError(f"JWK member {member!r} must hold 32 bytes")
    return raw


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Read the public half of an OKP Ed25519 JWK."""
    return Ed25519PublicKey.from_public_bytes(_jwk_bytes(jwk, "x"))


def private_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PrivateKey:
    """Read an OKP Ed25519 private JWK; ``x``, when given, must match ``d``."""
    private_key = Ed25519PrivateKey.from_private_bytes(_jwk_bytes(jwk, "d"))
    if "x" in jwk and _jwk_bytes(jwk, "x") != _raw_public(private_key.public_key()):
        raise LicenseFormatError("JWK members x and d do not belong together")
    return private_key


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key and the key id it signs under."""

    private_key: Ed25519PrivateKey
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key pair whose kid is its thumbprint."""
        return cls.from_private_key(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        """Wrap an existing private key; the kid is its thumbprint."""
        return cls(private_key, key_id_for(private_key.public_key()))

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half, to publish in a key set."""
        return self.private_key.public_key()

    def sign(self, payload: bytes, *, typ: str) -> str:
        """A compact JWS of ``payload`` with ``kid`` and ``typ`` in its header."""
        return sign_compact(payload, self.private_key, {"kid": self.kid, "typ": typ})

    def to_encrypted_pem(self, secret: bytes) -> bytes:
        """PKCS#8 PEM, encrypted with the best scheme the library offers."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret),
        )

    @classmethod
    def from_encrypted_pem(cls, pem: bytes, secret: bytes) -> SigningKey:
        """Decrypt a key written by :meth:`to_encrypted_pem`.

        Raises:
            SigningKeyError: wrong secret, damaged data, or not an Ed25519 key.
        """
        try:
            private_key = serialization.load_pem_private_key(pem, password=secret)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError("cannot decrypt the signing key") from exc
        if not isinstance(private_key, Ed25519PrivateKey):
            raise SigningKeyError("the signing key is not an Ed25519 key")
        return cls.from_private_key(private_key)


def key_secret_from_env(
    environ: Mapping[str, str] | None = None, name: str = KEY_SECRET_ENV
) -> bytes:
    """The secret that encrypts signing keys at rest, from the environment.

    Raises:
        ConfigurationError: the variable is unset or shorter than 16 characters.
    """
    secret = (os.environ if environ is None else environ).get(name, "")
    if len(secret) < _MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"{name} must hold a secret of at least {_MIN_SECRET_LENGTH} characters"
        )
    return secret.encode("utf-8")


def write_signing_key(path: Path, key: SigningKey, secret: bytes) -> None:
    """Write the key encrypted, readable by the owner only, replacing atomically."""
    write_atomically(path, key.to_encrypted_pem(secret))


def read_signing_key(path: Path, secret: bytes) -> SigningKey:
    """Read and decrypt a key written by :func:`write_signing_key`."""
    return SigningKey.from_encrypted_pem(path.read_bytes(), secret)
