"""Pinned public keys with a lifecycle, and the published key set (JWKS).

A product embeds the key set at build time. During a rotation a new key turns
active while the old one is retired: files it signed keep verifying, it just
signs nothing new. A revoked key (a leaked one) verifies nothing at all.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from eaf.licensing.domain import _codec
from eaf.licensing.domain.errors import (
    LicenseFormatError,
    LicenseSignatureError,
    RevokedKeyError,
    UnknownKeyError,
)
from eaf.licensing.signing import (
    JWS,
    key_id_for,
    parse_jws,
    public_jwk,
    public_key_from_jwk,
    verify_signature,
)


class KeyStatus(enum.StrEnum):
    """Lifecycle of a signing key as seen by verifiers."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class PublishedKey:
    """A public key, its id and its status."""

    kid: str
    public_key: Ed25519PublicKey
    status: KeyStatus = KeyStatus.ACTIVE

    def to_jwk(self) -> dict[str, str]:
        """The key as a JWK with an extra ``status`` member."""
        return {**public_jwk(self.public_key, self.kid), "status": str(self.status)}

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> PublishedKey:
        """Read a JWK; a missing ``status`` means active."""
        try:
            status = KeyStatus(jwk.get("status", KeyStatus.ACTIVE))
        except ValueError as exc:
            raise LicenseFormatError("unknown key status") from exc
        public_key = public_key_from_jwk(jwk)
        kid = jwk.get("kid") or key_id_for(public_key)
        if not isinstance(kid, str):
            raise LicenseFormatError("a JWK kid must be a string")
        return cls(kid, public_key, status)


class KeyRing:
    """The public keys a verifier trusts, by key id."""

    def __init__(self, keys: Iterable[PublishedKey] = ()) -> None:
        self._keys: dict[str, PublishedKey] = {}
        for key in keys:
            self._put(key)

    def __iter__(self) -> Iterator[PublishedKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def add(
        self,
        public_key: Ed25519PublicKey,
        *,
        kid: str | None = None,
        status: KeyStatus = KeyStatus.ACTIVE,
    ) -> PublishedKey:
        """Trust ``public_key``; its kid defaults to the key's thumbprint."""
        key = PublishedKey(kid or key_id_for(public_key), public_key, status)
        self._put(key)
        return key

    def _put(self, key: PublishedKey) -> None:
        if key.kid in self._keys:
            raise LicenseFormatError(f"key id {key.kid!r} appears twice")
        self._keys[key.kid] = key

    def get(self, kid: str) -> PublishedKey:
        """The key with id ``kid``, whatever its status.

        Raises:
            UnknownKeyError: no key has this id.
        """
        key = self._keys.get(kid)
        if key is None:
            raise UnknownKeyError(kid)
        return key

    def retire(self, kid: str) -> None:
        """Stop signing with ``kid``; what it signed still verifies."""
        if self.get(kid).status is KeyStatus.REVOKED:
            raise RevokedKeyError(kid)
        self._set_status(kid, KeyStatus.RETIRED)

    def revoke(self, kid: str) -> None:
        """Distrust ``kid`` for good; nothing it signed verifies any more."""
        self._set_status(kid, KeyStatus.REVOKED)

    def _set_status(self, kid: str, status: KeyStatus) -> None:
        self._keys[kid] = replace(self.get(kid), status=status)

    @property
    def active_keys(self) -> list[PublishedKey]:
        """Keys in ``active`` status, in the order they were added."""
        return [key for key in self if key.status is KeyStatus.ACTIVE]

    def verification_key(self, kid: str) -> Ed25519PublicKey:
        """The public key to check a signature made under ``kid``.

        Raises:
            UnknownKeyError: no key has this id.
            RevokedKeyError: the key was revoked.
        """
        key = self.get(kid)
        if key.status is KeyStatus.REVOKED:
            raise RevokedKeyError(kid)
        return key.public_key

    def verify(self, text: str, *, typ: str) -> JWS:
        """Parse a signed file, check its type and key, verify its signature."""
        jws = parse_jws(text)
        kid = jws.header.get("kid")
        if not isinstance(kid, str):
            raise LicenseSignatureError("the JWS header names no key id")
        if jws.header.get("typ") != typ:
            raise LicenseFormatError(f"expected a {typ} file")
        verify_signature(jws, self.verification_key(kid))
        return jws

    def to_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The published key set: ``{"keys": [...]}`` with a status per key."""
        return {"keys": [key.to_jwk() for key in self]}

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any] | str | bytes) -> KeyRing:
        """Read a key set from its JSON text or parsed form."""
        data = jwks if isinstance(jwks, Mapping) else _codec.parse_json_object(jwks)
        keys = data.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise LicenseFormatError("a key set needs a list of JWK objects")
        return cls(PublishedKey.from_jwk(jwk) for jwk in keys)
