"""The licensing error subtree.

Everything here derives from :class:`LicensingError`, so a product can catch one
type. Errors that a command of the license aggregate raises also derive from
:class:`eaf.errors.DomainError`, which gives the HTTP layer a status and a code.
"""

from __future__ import annotations

from eaf.errors import DomainError, EAFError, NotFoundError


class LicensingError(EAFError):
    """Base class of every licensing error."""


class LicenseFormatError(LicensingError, DomainError):
    """A license, certificate, request or key set is malformed."""

    code = "invalid-license-format"


class LicenseSignatureError(LicensingError):
    """A signature does not verify with the key its header names."""


class SigningKeyError(LicensingError):
    """A private key cannot be read: wrong secret, damaged file, wrong type."""


class UnknownKeyError(LicensingError):
    """The key id of a signed file is not in the pinned key ring."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"signing key {kid!r} is not in the key ring")
        self.kid = kid


class RevokedKeyError(LicensingError):
    """The file was signed with a key that has been revoked."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"signing key {kid!r} has been revoked")
        self.kid = kid


class ProductMismatchError(LicensingError, DomainError):
    """A license, certificate or request belongs to another product."""

    code = "product-mismatch"


class LicenseExpiredError(LicensingError):
    """The license ended, grace period included."""


class LicenseNotYetValidError(LicensingError):
    """The license starts later than the current time."""


class ClockTamperError(LicensingError):
    """The clock runs earlier than a time this machine has already seen."""


class LastSeenTamperedError(ClockTamperError):
    """The last-seen time file was edited or does not belong to this license."""


class FingerprintUnavailableError(LicensingError, DomainError):
    """A fingerprint has neither machine-id nor DMI uuid to anchor it."""

    code = "fingerprint-unavailable"


class MachineMismatchError(LicensingError):
    """A machine certificate belongs to another machine or license."""


class ActivationRequiredError(LicensingError):
    """A node-locked license has no machine certificate installed."""


class ActivationExpiredError(LicensingError):
    """The machine certificate has passed its own expiry."""


class FeatureNotLicensedError(LicensingError, DomainError):
    """The installed license does not grant the requested feature."""

    status = 403
    code = "feature-not-licensed"

    def __init__(self, feature: str) -> None:
        super().__init__(
            f"the installed license does not grant the feature {feature!r}",
            feature=feature,
        )
        self.feature = feature


class PolicyError(LicensingError, DomainError):
    """A policy's terms contradict each other or are out of range."""

    code = "invalid-policy"


class UnsafeTextError(LicensingError, DomainError):
    """Free text holds a control or bidirectional override character."""

    code = "unsafe-text"


class ExpiryOutOfRangeError(LicensingError, DomainError):
    """An expiry would fall after :data:`~eaf.licensing.domain.policy.MAX_EXPIRY`."""

    code = "expiry-out-of-range"


class LicenseStateError(LicensingError, DomainError):
    """A command does not fit the license's current state."""

    status = 409
    code = "license-state-conflict"


class SeatLimitExceededError(LicensingError, DomainError):
    """Activating one more machine would exceed the license's seats."""

    status = 409
    code = "seat-limit-exceeded"


class ActivationNotFoundError(LicensingError, NotFoundError):
    """No active machine activation has the given id."""

    code = "activation-not-found"


class LicenseNotFoundError(LicensingError, NotFoundError):
    """No license with the given id is visible to the caller."""

    code = "license-not-found"


class CatalogNotFoundError(LicensingError, NotFoundError):
    """No product or policy with the given name exists."""

    code = "catalog-entry-not-found"


class SigningKeyStateError(LicensingError, DomainError):
    """A key command does not fit: no active key, unknown or revoked key."""

    status = 409
    code = "signing-key-conflict"


class LicenseRejectedError(LicensingError, DomainError):
    """A license file offered for installation does not verify or fit."""

    code = "license-rejected"


class UserLimitReachedError(LicensingError, DomainError):
    """The platform license allows no further user."""

    status = 403
    code = "license-user-limit-reached"


class SigningKeyNotFoundError(LicensingError, NotFoundError):
    """No signing key has the given id."""

    code = "signing-key-not-found"
