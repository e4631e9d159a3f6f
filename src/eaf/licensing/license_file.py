"""License files: a license document signed as a JWS.

A license file holds the compact JWS, optionally followed by one line feed.
Its header names ``alg: EdDSA``, ``typ: eaf-license+jws`` and the signing key
``kid``; its payload is the canonical JSON of a :class:`LicenseDocument`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eaf.licensing._files import read_signed_file, write_signed_file
from eaf.licensing.domain import _codec
from eaf.licensing.domain.document import LicenseDocument
from eaf.licensing.domain.errors import LicenseFormatError
from eaf.licensing.keyring import KeyRing
from eaf.licensing.signing import JWS, SigningKey, decode_payload

LICENSE_TYP = "eaf-license+jws"


@dataclass(frozen=True)
class VerifiedLicense:
    """A license whose signature, key and format have been checked."""

    document: LicenseDocument
    jws: JWS

    @property
    def signature(self) -> bytes:
        """The Ed25519 signature; unique to this license file."""
        return self.jws.signature


def sign_license(document: LicenseDocument, key: SigningKey) -> str:
    """Sign ``document`` with ``key`` and return the compact JWS.

    Raises:
        LicenseFormatError: the document names another key id than ``key``.
    """
    if document.key_id != key.kid:
        raise LicenseFormatError(
            f"document names key {document.key_id!r}, signing key is {key.kid!r}"
        )
    payload = _codec.canonical_json(document.to_dict())
    return key.sign(payload, typ=LICENSE_TYP)


def verify_license(text: str, keyring: KeyRing) -> VerifiedLicense:
    """Verify a license file's text against the pinned ``keyring``.

    The validity window is not checked here; see
    :class:`eaf.licensing.validator.LicenseValidator`.

    Raises:
        LicenseFormatError: the text is not a well-formed license file.
        LicenseSignatureError: the signature does not verify.
        UnknownKeyError: the signing key is not pinned.
        RevokedKeyError: the signing key was revoked.
    """
    jws = keyring.verify(text, typ=LICENSE_TYP)
    return VerifiedLicense(LicenseDocument.from_dict(decode_payload(jws)), jws)


def write_license_file(path: Path, token: str) -> None:
    """Write a license file: the compact JWS and one line feed."""
    write_signed_file(path, token)


def read_license_file(path: Path) -> str:
    """Read a license file's text, unverified."""
    return read_signed_file(path)
