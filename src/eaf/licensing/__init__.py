"""Licensing: signed license files, machine activation, offline validation.

The SDK surface a product needs is exported here. The FastAPI dependency lives
in :mod:`eaf.licensing.fastapi` so that importing the SDK does not import
FastAPI.
"""

from eaf.licensing.activation import (
    ActivationRequest,
    MachineCertificate,
    certificate_path_for,
    install_machine_certificate,
    issue_machine_certificate,
    read_activation_request,
    read_machine_certificate,
    verify_machine_certificate,
    write_activation_request,
    write_machine_certificate,
)
from eaf.licensing.clock import LastSeenStore
from eaf.licensing.domain import *  # noqa: F403 - the domain's __all__ is ours too
from eaf.licensing.domain import __all__ as _domain_names
from eaf.licensing.fingerprint import machine_fingerprint, read_components
from eaf.licensing.keyring import KeyRing, KeyStatus, PublishedKey
from eaf.licensing.license_file import (
    VerifiedLicense,
    read_license_file,
    sign_license,
    verify_license,
    write_license_file,
)
from eaf.licensing.signing import SigningKey, key_secret_from_env
from eaf.licensing.validator import (
    LicenseValidator,
    ValidationResult,
    run_revalidation,
    start_revalidation,
)

__all__ = [
    *_domain_names,
    "ActivationRequest",
    "KeyRing",
    "KeyStatus",
    "LastSeenStore",
    "LicenseValidator",
    "MachineCertificate",
    "PublishedKey",
    "SigningKey",
    "ValidationResult",
    "VerifiedLicense",
    "certificate_path_for",
    "install_machine_certificate",
    "issue_machine_certificate",
    "key_secret_from_env",
    "machine_fingerprint",
    "read_activation_request",
    "read_components",
    "read_license_file",
    "read_machine_certificate",
    "run_revalidation",
    "sign_license",
    "start_revalidation",
    "verify_license",
    "verify_machine_certificate",
    "write_activation_request",
    "write_license_file",
    "write_machine_certificate",
]
