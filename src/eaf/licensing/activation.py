"""Machine activation: request files, and signed machine certificates.

Offline, the site writes an activation request file and carries it to the
vendor; the service answers with a machine certificate file, which the site
installs beside its license. Online activation sends the same request as JSON
and answers with the same certificate, so both paths verify alike.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from eaf.licensing._files import read_signed_file, write_atomically, write_signed_file
from eaf.licensing.domain import _codec
from eaf.licensing.domain.document import check_identifier
from eaf.licensing.domain.errors import (
    ActivationExpiredError,
    LicenseFormatError,
    MachineMismatchError,
    ProductMismatchError,
)
from eaf.licensing.domain.license import License
from eaf.licensing.domain.machine import Fingerprint, MatchRule
from eaf.licensing.fingerprint import machine_fingerprint
from eaf.licensing.keyring import KeyRing
from eaf.licensing.license_file import verify_license
from eaf.licensing.signing import SigningKey, decode_payload

REQUEST_FORMAT = "eaf-activation-request/1"
CERTIFICATE_FORMAT = "eaf-machine/1"
CERTIFICATE_TYP = "eaf-machine+jws"
CERTIFICATE_SUFFIX = ".cert"

_NONCE = re.compile(r"[A-Za-z0-9_-]{22,86}")


def _check_format(data: Mapping[str, Any], expected: str) -> None:
    if data.get("format") != expected:
        raise LicenseFormatError(f"expected format {expected!r}")


def _check_nonce(nonce: str) -> str:
    if not _NONCE.fullmatch(nonce):
        raise LicenseFormatError("a nonce is 22-86 base64url characters")
    return nonce


@dataclass(frozen=True)
class ActivationRequest:
    """What a site sends to get a machine certificate (unsigned)."""

    license_id: str
    product: str
    fingerprint: Fingerprint
    nonce: str
    created_at: datetime

    def __post_init__(self) -> None:
        check_identifier("license id", self.license_id)
        _check_nonce(self.nonce)
        object.__setattr__(self, "created_at", _codec.to_utc_seconds(self.created_at))

    @classmethod
    def create(
        cls, license_id: str, product: str, fingerprint: Fingerprint, *, now: datetime
    ) -> ActivationRequest:
        """A request with a fresh 128-bit nonce."""
        nonce = _codec.b64url_encode(secrets.token_bytes(16))
        return cls(license_id, product, fingerprint, nonce, now)

    def to_dict(self) -> dict[str, Any]:
        """The JSON members of a request file."""
        return {
            "format": REQUEST_FORMAT,
            "license_id": self.license_id,
            "product": self.product,
            "fingerprint": self.fingerprint.to_dict(),
            "nonce": self.nonce,
            "created_at": _codec.format_timestamp(self.created_at),
        }

    def to_json(self) -> str:
        """The request file's text: indented JSON, for people who carry it."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> ActivationRequest:
        """Read a request file's text."""
        data = _codec.parse_json_object(text)
        _check_format(data, REQUEST_FORMAT)
        return cls(
            license_id=_codec.get_str(data, "license_id"),
            product=_codec.get_str(data, "product"),
            fingerprint=Fingerprint.from_dict(_codec.get_object(data, "fingerprint")),
            nonce=_codec.get_str(data, "nonce"),
            created_at=_codec.get_time(data, "created_at"),
        )


@dataclass(frozen=True)
class MachineCertificate:
    """The signed statement that a machine holds a seat of a license."""

    license_id: str
    activation_id: str
    product: str
    fingerprint: Fingerprint
    nonce: str
    issued_at: datetime
    expires_at: datetime | None
    key_id: str

    def __post_init__(self) -> None:
        for name in ("issued_at", "expires_at"):
            moment = getattr(self, name)
            if moment is not None:
                object.__setattr__(self, name, _codec.to_utc_seconds(moment))

    def to_dict(self) -> dict[str, Any]:
        """The JSON members of the signed payload."""
        expires_at = self.expires_at
        return {
            "format": CERTIFICATE_FORMAT,
            "license_id": self.license_id,
            "activation_id": self.activation_id,
            "product": self.product,
            "fingerprint": self.fingerprint.to_dict(),
            "nonce": self.nonce,
            "issued_at": _codec.format_timestamp(self.issued_at),
            "expires_at": _codec.format_timestamp(expires_at) if expires_at else None,
            "kid": self.key_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MachineCertificate:
        """Read the payload members; unknown members are ignored."""
        _check_format(data, CERTIFICATE_FORMAT)
        return cls(
            license_id=_codec.get_str(data, "license_id"),
            activation_id=_codec.get_str(data, "activation_id"),
            product=_codec.get_str(data, "product"),
            fingerprint=Fingerprint.from_dict(_codec.get_object(data, "fingerprint")),
            nonce=_codec.get_str(data, "nonce"),
            issued_at=_codec.get_time(data, "issued_at"),
            expires_at=_codec.get_optional_time(data, "expires_at"),
            key_id=_codec.get_str(data, "kid"),
        )


def issue_machine_certificate(
    license_: License,
    request: ActivationRequest,
    key: SigningKey,
    *,
    now: datetime,
    valid_for: timedelta | None = None,
    rule: MatchRule | None = None,
) -> str:
    """Service side: give the machine a seat (or find its seat) and sign.

    Asking twice for the same machine returns a certificate for the same
    activation, and the license counts one seat. The caller stores the events
    the license recorded.

    Args:
        valid_for: the certificate's own lifetime; ``None`` lets it last as
            long as the license does, which suits offline sites.
    """
    if request.product != license_.product:
        raise ProductMismatchError(f"request is for product {request.product!r}")
    if request.license_id != license_.license_id:
        raise LicenseFormatError(f"request is for license {request.license_id!r}")
    activation = license_.activate_machine(request.fingerprint, at=now, rule=rule)
    certificate = MachineCertificate(
        license_id=license_.license_id,
        activation_id=activation.activation_id,
        product=license_.product,
        fingerprint=request.fingerprint,
        nonce=request.nonce,
        issued_at=now,
        expires_at=None if valid_for is None else now + valid_for,
        key_id=key.kid,
    )
    payload = _codec.canonical_json(certificate.to_dict())
    return key.sign(payload, typ=CERTIFICATE_TYP)


def verify_machine_certificate(
    text: str,
    keyring: KeyRing,
    *,
    license_id: str,
    product: str,
    fingerprint: Fingerprint,
    now: datetime,
    rule: MatchRule | None = None,
    expected_nonce: str | None = None,
) -> MachineCertificate:
    """Site side: check a certificate is genuine and meant for this machine.

    Args:
        fingerprint: this machine's fingerprint, read locally.
        expected_nonce: the nonce of the request this site sent, when the
            certificate answers a request it still remembers.

    Raises:
        MachineMismatchError: another license, request or machine.
        ActivationExpiredError: the certificate's own lifetime has ended.
    """
    jws = keyring.verify(text, typ=CERTIFICATE_TYP)
    certificate = MachineCertificate.from_dict(decode_payload(jws))
    if certificate.product != product:
        raise ProductMismatchError(f"certificate is for {certificate.product!r}")
    if certificate.license_id != license_id:
        raise MachineMismatchError(f"certificate is for {certificate.license_id!r}")
    if expected_nonce is not None and certificate.nonce != expected_nonce:
        raise MachineMismatchError("certificate answers another activation request")
    if not (rule or MatchRule()).matches(certificate.fingerprint, fingerprint):
        raise MachineMismatchError("certificate was issued to another machine")
    if certificate.expires_at is not None and now >= certificate.expires_at:
        raise ActivationExpiredError("machine certificate has expired")
    return certificate


def write_activation_request(path: Path, request: ActivationRequest) -> None:
    """Write a request file for the operator to carry to the vendor."""
    write_atomically(path, request.to_json().encode("utf-8"))


def read_activation_request(path: Path) -> ActivationRequest:
    """Read a request file."""
    return ActivationRequest.from_json(path.read_bytes())


def write_machine_certificate(path: Path, token: str) -> None:
    """Install a machine certificate file: the compact JWS and one line feed."""
    write_signed_file(path, token)


def read_machine_certificate(path: Path) -> str:
    """Read a machine certificate file's text, unverified."""
    return read_signed_file(path)


def certificate_path_for(license_path: Path) -> Path:
    """Where a license's machine certificate is installed: beside it.

    ``/etc/orbit/orbit.license`` gets ``/etc/orbit/orbit.license.cert``;
    :meth:`LicenseValidator.from_files` looks there by default.
    """
    return license_path.with_name(license_path.name + CERTIFICATE_SUFFIX)


def install_machine_certificate(
    text: str,
    license_path: Path,
    keyring: KeyRing,
    *,
    now: datetime,
    fingerprint: Fingerprint | None = None,
    values: Mapping[str, str] | None = None,
    rule: MatchRule | None = None,
    destination: Path | None = None,
) -> MachineCertificate:
    """Site side: verify a certificate for the installed license, then write it.

    The license file gives the license id and product the certificate must
    carry; both files must verify with ``keyring``. Nothing is written when a
    check fails.

    Args:
        fingerprint: this machine's fingerprint; computed from ``values``
            (raw component values) or read from the system when omitted.
        destination: where to write; :func:`certificate_path_for` by default.

    Raises:
        MachineMismatchError: the certificate is for another machine or
            license.
        LicensingError: another subclass when a file does not verify.
    """
    document = verify_license(read_signed_file(license_path), keyring).document
    if fingerprint is None:
        fingerprint = machine_fingerprint(document.product, values)
    certificate = verify_machine_certificate(
        text,
        keyring,
        license_id=document.license_id,
        product=document.product,
        fingerprint=fingerprint,
        now=now,
        rule=rule,
    )
    # A file read from disk ends in the line feed the writer adds again.
    token = text.removesuffix("\n")
    write_machine_certificate(destination or certificate_path_for(license_path), token)
    return certificate
