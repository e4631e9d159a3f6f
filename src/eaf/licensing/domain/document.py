"""The license document: what a signed license file says."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eaf.licensing.domain import _codec
from eaf.licensing.domain.errors import LicenseFormatError, PolicyError
from eaf.licensing.domain.policy import check_entitlements, check_limits, check_name

LICENSE_FORMAT = "eaf-license/1"

_TENANT_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class LicenseStatus(enum.StrEnum):
    """Where a moment falls in a license's validity window."""

    NOT_YET_VALID = "not_yet_valid"
    VALID = "valid"
    IN_GRACE = "in_grace"
    EXPIRED = "expired"


def check_identifier(kind: str, value: str) -> str:
    """Return ``value`` if it is a usable license, activation or key id."""
    if not _IDENTIFIER.fullmatch(value):
        raise LicenseFormatError(f"{kind} must be 1-128 of A-Z a-z 0-9 . _ : -")
    return value


def check_customer(slug: str) -> str:
    """Return ``slug`` if it is a valid tenant slug."""
    if not _TENANT_SLUG.fullmatch(slug):
        raise LicenseFormatError(f"customer {slug!r} is not a tenant slug")
    return slug


def classify_moment(
    now: datetime,
    *,
    not_before: datetime,
    expires_at: datetime | None,
    grace_days: int,
    skew: timedelta = timedelta(0),
) -> LicenseStatus:
    """Where ``now`` falls in a validity window; ``skew`` eases not_before."""
    if now + skew < not_before:
        return LicenseStatus.NOT_YET_VALID
    if expires_at is None or now < expires_at:
        return LicenseStatus.VALID
    if now < expires_at + timedelta(days=grace_days):
        return LicenseStatus.IN_GRACE
    return LicenseStatus.EXPIRED


@dataclass(frozen=True)
class LicenseDocument:
    """The signed content of a license file (format ``eaf-license/1``).

    ``expires_at`` of ``None`` means perpetual. The license is usable from
    ``not_before`` until ``expires_at``, then for ``grace_days`` more days with
    a warning, then refused.
    """

    license_id: str
    product: str
    customer: str
    issued_at: datetime
    not_before: datetime
    expires_at: datetime | None
    key_id: str
    grace_days: int = 0
    entitlements: frozenset[str] = frozenset()
    limits: Mapping[str, int] = field(default_factory=dict, hash=False)
    node_locked: bool = False
    trial: bool = False
    format: str = LICENSE_FORMAT

    def __post_init__(self) -> None:
        if self.format != LICENSE_FORMAT:
            raise LicenseFormatError(f"unsupported license format {self.format!r}")
        check_identifier("license id", self.license_id)
        check_identifier("key id", self.key_id)
        check_customer(self.customer)
        if self.grace_days < 0:
            raise LicenseFormatError("grace_days must not be negative")
        try:
            check_name("product", self.product)
            entitlements = check_entitlements(self.entitlements)
            limits = check_limits(self.limits)
        except PolicyError as exc:
            raise LicenseFormatError(exc.detail) from exc
        object.__setattr__(self, "entitlements", entitlements)
        object.__setattr__(self, "limits", limits)
        self._normalise_times()

    def _normalise_times(self) -> None:
        for name in ("issued_at", "not_before", "expires_at"):
            moment = getattr(self, name)
            if moment is not None:
                object.__setattr__(self, name, _codec.to_utc_seconds(moment))
        if self.expires_at is not None and self.expires_at <= self.not_before:
            raise LicenseFormatError("expires_at must be later than not_before")

    @property
    def grace_ends_at(self) -> datetime | None:
        """The last moment (exclusive) the license is usable at all."""
        if self.expires_at is None:
            return None
        return self.expires_at + timedelta(days=self.grace_days)

    def status_at(self, now: datetime, skew: timedelta = timedelta(0)) -> LicenseStatus:
        """Classify ``now``; ``skew`` lets a slightly slow clock pass not_before."""
        return classify_moment(
            now,
            not_before=self.not_before,
            expires_at=self.expires_at,
            grace_days=self.grace_days,
            skew=skew,
        )

    def has_feature(self, name: str) -> bool:
        """True when ``name`` is among the entitlements."""
        return name in self.entitlements

    def limit(self, name: str) -> int | None:
        """The numeric limit ``name``, or ``None`` when the license sets none."""
        return self.limits.get(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON members of the signed payload."""
        expires_at = self.expires_at
        return {
            "format": self.format,
            "id": self.license_id,
            "product": self.product,
            "customer": self.customer,
            "issued_at": _codec.format_timestamp(self.issued_at),
            "not_before": _codec.format_timestamp(self.not_before),
            "expires_at": _codec.format_timestamp(expires_at) if expires_at else None,
            "grace_days": self.grace_days,
            "entitlements": sorted(self.entitlements),
            "limits": dict(self.limits),
            "node_locked": self.node_locked,
            "trial": self.trial,
            "kid": self.key_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LicenseDocument:
        """Read the payload members; unknown members are ignored.

        Raises:
            LicenseFormatError: the format is not ``eaf-license/1`` or a member
                is missing or of the wrong type.
        """
        if data.get("format") != LICENSE_FORMAT:
            raise LicenseFormatError(f"format must be {LICENSE_FORMAT!r}")
        return cls(
            license_id=_codec.get_str(data, "id"),
            product=_codec.get_str(data, "product"),
            customer=_codec.get_str(data, "customer"),
            issued_at=_codec.get_time(data, "issued_at"),
            not_before=_codec.get_time(data, "not_before"),
            expires_at=_codec.get_optional_time(data, "expires_at"),
            key_id=_codec.get_str(data, "kid"),
            grace_days=_codec.get_int(data, "grace_days"),
            entitlements=frozenset(_codec.get_str_list(data, "entitlements")),
            limits=_codec.get_int_map(data, "limits"),
            node_locked=_codec.get_bool(data, "node_locked"),
            trial=_codec.get_bool(data, "trial"),
        )
