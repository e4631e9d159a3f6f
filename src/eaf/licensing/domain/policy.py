"""Policies: the terms a license is issued under."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eaf.licensing.domain import _codec
from eaf.licensing.domain.errors import (
    ExpiryOutOfRangeError,
    LicenseFormatError,
    PolicyError,
)

_NAME = re.compile(r"[a-z0-9][a-z0-9._:-]{0,63}")
MACHINES_LIMIT = "machines"
# Bounds that keep date arithmetic (expiry plus grace) and stored counts sane.
MAX_EXPIRY = datetime(9000, 1, 1, tzinfo=UTC)
MAX_DAYS = 36500
MAX_LIMIT = 2**31 - 1
# New policies carry at most this many limits and as many entitlements; files
# signed earlier are still read whatever they hold.
MAX_TERMS = 100


def check_expiry(expires_at: datetime) -> datetime:
    """Return ``expires_at`` if it is no later than :data:`MAX_EXPIRY`."""
    if expires_at > MAX_EXPIRY:
        raise ExpiryOutOfRangeError(
            f"an expiry must not be later than {MAX_EXPIRY.isoformat()}",
            expires_at=expires_at.isoformat(),
        )
    return expires_at


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid feature, limit or product name."""
    if not _NAME.fullmatch(name):
        raise PolicyError(
            f"{kind} {name!r} must start with a-z or 0-9, followed by up to 63 "
            "of a-z, 0-9, '.', '_', ':', '-'",
            kind=kind,
            name=name,
        )
    return name


def check_limits(limits: Mapping[str, int]) -> dict[str, int]:
    """Return a copy of ``limits`` after checking names and values."""
    checked: dict[str, int] = {}
    for name, value in limits.items():
        check_name("limit", name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PolicyError(f"limit {name!r} must be a non-negative integer")
        if value > MAX_LIMIT:
            raise PolicyError(f"limit {name!r} must be at most {MAX_LIMIT}")
        checked[name] = value
    return checked


def check_term_counts(policy: Policy) -> Policy:
    """Return ``policy`` if it has at most :data:`MAX_TERMS` limits and features."""
    for kind, count in (
        ("limits", len(policy.limits)),
        ("entitlements", len(policy.entitlements)),
    ):
        if count > MAX_TERMS:
            raise PolicyError(
                f"a policy may have at most {MAX_TERMS} {kind}, not {count}",
                field=kind,
            )
    return policy


def check_entitlements(names: Iterable[str]) -> frozenset[str]:
    """Return the entitlements as a frozenset after checking each name."""
    return frozenset(check_name("entitlement", name) for name in names)


@dataclass(frozen=True)
class Policy:
    """Terms of a license: duration, grace, features, limits and binding.

    ``duration_days`` of ``None`` makes licenses perpetual. A node-locked policy
    allows exactly one machine; a floating one allows ``limits["machines"]``
    concurrent machines, or any number when that limit is absent.
    """

    name: str
    duration_days: int | None = 365
    grace_days: int = 0
    entitlements: frozenset[str] = frozenset()
    limits: Mapping[str, int] = field(default_factory=dict, hash=False)
    node_locked: bool = False
    is_trial: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise PolicyError("a policy needs a name")
        if self.duration_days is not None and not 0 < self.duration_days <= MAX_DAYS:
            raise PolicyError(
                f"duration_days must be 1-{MAX_DAYS}, or None for perpetual"
            )
        if not 0 <= self.grace_days <= MAX_DAYS:
            raise PolicyError(f"grace_days must be 0-{MAX_DAYS}")
        if self.is_trial and self.duration_days is None:
            raise PolicyError("a trial policy cannot be perpetual")
        limits = check_limits(self.limits)
        if self.node_locked and limits.get(MACHINES_LIMIT, 1) != 1:
            raise PolicyError("a node-locked policy allows exactly one machine")
        object.__setattr__(self, "entitlements", check_entitlements(self.entitlements))
        object.__setattr__(self, "limits", limits)

    @property
    def is_perpetual(self) -> bool:
        """True when licenses under this policy never expire."""
        return self.duration_days is None

    @property
    def max_machines(self) -> int | None:
        """How many machines may be active at once; ``None`` for no limit."""
        if self.node_locked:
            return 1
        return self.limits.get(MACHINES_LIMIT)

    def expiry_for(self, start: datetime) -> datetime | None:
        """The expiry of a license (or a renewal) that begins at ``start``."""
        if self.duration_days is None:
            return None
        try:
            expiry = _codec.to_utc_seconds(start) + timedelta(days=self.duration_days)
        except OverflowError:
            raise ExpiryOutOfRangeError(
                f"an expiry must not be later than {MAX_EXPIRY.isoformat()}",
                start=start.isoformat(),
            ) from None
        return check_expiry(expiry)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, used inside event payloads."""
        return {
            "name": self.name,
            "duration_days": self.duration_days,
            "grace_days": self.grace_days,
            "entitlements": sorted(self.entitlements),
            "limits": dict(self.limits),
            "node_locked": self.node_locked,
            "is_trial": self.is_trial,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Rebuild a policy written by :meth:`to_dict`."""
        duration = data.get("duration_days")
        if duration is not None and not isinstance(duration, int):
            raise LicenseFormatError("duration_days must be an integer or null")
        return cls(
            name=_codec.get_str(data, "name"),
            duration_days=duration,
            grace_days=_codec.get_int(data, "grace_days"),
            entitlements=frozenset(_codec.get_str_list(data, "entitlements")),
            limits=_codec.get_int_map(data, "limits"),
            node_locked=_codec.get_bool(data, "node_locked"),
            is_trial=_codec.get_bool(data, "is_trial"),
        )
