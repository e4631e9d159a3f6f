"""Request and response bodies of the licensing API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from eaf.licensing.domain._text import unsafe_character
from eaf.licensing.domain.policy import MAX_DAYS, MAX_LIMIT, MAX_TERMS


def _safe_text(value: str) -> str:
    character = unsafe_character(value)
    if character is not None:
        raise ValueError(
            "must not contain control or bidirectional override characters "
            f"(found U+{ord(character):04X})"
        )
    return value


SafeText = Annotated[str, AfterValidator(_safe_text)]
Name = Annotated[str, Field(min_length=1, max_length=64, examples=["orbit"])]
Reason = Annotated[SafeText, Field(default="", max_length=500)]
# Strict: JSON true must not pass as 1, nor a string as a number.
DurationDays = Annotated[int, Field(strict=True, ge=1, le=MAX_DAYS)]
GraceDays = Annotated[int, Field(strict=True, ge=0, le=3650)]
LimitValue = Annotated[int, Field(strict=True, ge=0, le=MAX_LIMIT)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductIn(_Input):
    """A product to add."""

    name: Name
    display_name: SafeText = Field(default="", max_length=200, examples=["Orbit"])


class ProductOut(BaseModel):
    """A product of the catalog."""

    name: str
    display_name: str
    status: str
    created_at: datetime | None = None


class PolicyIn(_Input):
    """Terms to add as a policy of a product."""

    id: Name = Field(examples=["orbit-standard"])
    product: Name
    duration_days: DurationDays | None = Field(
        default=365, description="null for perpetual licenses"
    )
    grace_days: GraceDays = 0
    entitlements: list[str] = Field(default_factory=list, max_length=MAX_TERMS)
    limits: dict[str, LimitValue] = Field(
        default_factory=dict,
        max_length=MAX_TERMS,
        examples=[{"users": 50, "machines": 3}],
    )
    node_locked: bool = Field(default=False, strict=True)
    trial: bool = Field(default=False, strict=True)


class PolicyOut(BaseModel):
    """A policy with its terms."""

    id: str
    product: str
    status: str
    duration_days: int | None
    grace_days: int
    entitlements: list[str]
    limits: dict[str, int]
    node_locked: bool
    trial: bool
    created_at: datetime | None = None


class LicenseIn(_Input):
    """A license to issue to a customer tenant under a policy."""

    customer: str = Field(min_length=1, max_length=63, examples=["acme"])
    policy: Name
    id: str | None = Field(default=None, min_length=1, max_length=128)


class LicenseSummaryOut(BaseModel):
    """A license as listings show it."""

    id: str
    customer: str
    product: str
    policy: str
    state: str
    issued_at: datetime
    expires_at: datetime | None
    grace_days: int
    max_seats: int | None
    seats_used: int


class LicenseOut(LicenseSummaryOut):
    """A license with its terms and where it stands now."""

    status: str
    entitlements: list[str]
    limits: dict[str, int]
    node_locked: bool
    trial: bool


class ReasonIn(_Input):
    """Why a license is suspended or revoked, or a key revoked."""

    reason: Reason


class ExtendIn(_Input):
    """The new expiry, with a time zone."""

    expires_at: datetime


class ActivationOut(BaseModel):
    """A machine's seat and its signed certificate."""

    license_id: str
    activation_id: str
    certificate: str
    expires_at: datetime | None


class ActivationListOut(BaseModel):
    """A machine holding a seat."""

    id: str
    license_id: str
    fingerprint: str
    activated_at: datetime


class KeyOut(BaseModel):
    """A signing key's id and status after a key command."""

    kid: str
    status: str
    retired: str | None = None


class PlatformLicenseIn(_Input):
    """A license file for product ``eaf``, as text."""

    license: str = Field(min_length=1, max_length=20000)


class PlatformLicenseOut(BaseModel):
    """The license this installation runs under."""

    license_id: str
    product: str
    customer: str
    limits: dict[str, int]
    not_before: datetime
    expires_at: datetime | None
    grace_days: int
    installed_at: datetime
    installed_by: str | None
    status: str
