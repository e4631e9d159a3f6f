"""Machine fingerprints as values, and the rule for "same machine".

Reading the components from the operating system happens at the edge, in
:mod:`eaf.licensing.fingerprint`; this module only hashes and compares them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eaf.licensing.domain import _codec
from eaf.licensing.domain.errors import LicenseFormatError

FINGERPRINT_VERSION = "eaf-fingerprint/1"
ANCHOR_COMPONENTS = ("machine_id", "dmi_uuid")
STANDARD_COMPONENTS = ("machine_id", "dmi_uuid", "mac", "hostname", "cpu_model")


def normalise_value(value: str) -> str:
    """Collapse whitespace and case so cosmetic differences do not count."""
    return " ".join(value.split()).lower()


def hash_component(product: str, name: str, value: str) -> str:
    """HMAC-SHA256 of one component, keyed by a product-specific salt.

    The salt keeps hashes of the same machine unrelated across products, and
    the hashes keep host names and MAC addresses out of request files.
    """
    salt = hashlib.sha256(f"{FINGERPRINT_VERSION}\0{product}".encode()).digest()
    message = f"{name}\0{normalise_value(value)}".encode()
    return _codec.b64url_encode(hmac.new(salt, message, hashlib.sha256).digest())


@dataclass(frozen=True)
class Fingerprint:
    """Per-component hashes of one machine, and an id combining all of them."""

    components: Mapping[str, str] = field(hash=False)
    id: str = field(init=False)

    def __post_init__(self) -> None:
        components = dict(sorted(self.components.items()))
        if not components:
            raise LicenseFormatError("a fingerprint needs at least one component")
        digest = hashlib.sha256(_codec.canonical_json(components)).digest()
        object.__setattr__(self, "components", components)
        object.__setattr__(self, "id", _codec.b64url_encode(digest))

    @classmethod
    def from_values(cls, product: str, values: Mapping[str, str]) -> Fingerprint:
        """Hash raw component values; empty values are left out."""
        hashes = {
            name: hash_component(product, name, value)
            for name, value in values.items()
            if normalise_value(value)
        }
        return cls(hashes)

    @property
    def has_anchor(self) -> bool:
        """True when machine-id or DMI uuid is among the components."""
        return any(name in self.components for name in ANCHOR_COMPONENTS)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in requests and machine certificates."""
        return {"id": self.id, "components": dict(self.components)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        """Read the JSON form; the id must match the components."""
        fingerprint = cls(_codec.get_str_map(data, "components"))
        if data.get("id") != fingerprint.id:
            raise LicenseFormatError("fingerprint id does not match its components")
        return fingerprint


@dataclass(frozen=True)
class FingerprintComparison:
    """Which components two fingerprints share, and which of those agree."""

    agreeing: frozenset[str]
    differing: frozenset[str]

    @property
    def shared(self) -> frozenset[str]:
        """Components present on both sides."""
        return self.agreeing | self.differing


@dataclass(frozen=True)
class MatchRule:
    """When a fingerprint counts as the same machine as a reference.

    Components present on both sides are compared. At most ``max_differing``
    of them may differ, at least one anchor must agree, and at least
    ``min_matching`` components must agree; a reference too small for that
    needs all its components but ``max_differing`` to agree (never fewer
    than one). So one changed component, an anchor included, is tolerated on
    a machine whose other components agree, and two changes are not.
    """

    min_matching: int = 3
    max_differing: int = 1
    anchors: tuple[str, ...] = ANCHOR_COMPONENTS

    def __post_init__(self) -> None:
        if self.min_matching < 1:
            raise ValueError("min_matching must be at least 1")
        if self.max_differing < 0:
            raise ValueError("max_differing must not be negative")
        if not self.anchors:
            raise ValueError("a match rule needs at least one anchor component")

    def matches(self, reference: Fingerprint, candidate: Fingerprint) -> bool:
        """True when ``candidate`` is the machine ``reference`` describes."""
        if reference.id == candidate.id:
            return True
        comparison = compare_fingerprints(reference, candidate)
        if len(comparison.differing) > self.max_differing:
            return False
        if not comparison.agreeing.intersection(self.anchors):
            return False
        return len(comparison.agreeing) >= self.needed_agreeing(reference)

    def needed_agreeing(self, reference: Fingerprint) -> int:
        """How many components must agree with ``reference``."""
        tolerated = len(reference.components) - self.max_differing
        return max(1, min(self.min_matching, tolerated))


def compare_fingerprints(
    reference: Fingerprint, candidate: Fingerprint
) -> FingerprintComparison:
    """Sort the components both fingerprints have into agreeing and differing."""
    shared = reference.components.keys() & candidate.components.keys()
    agreeing = {
        name
        for name in shared
        if hmac.compare_digest(reference.components[name], candidate.components[name])
    }
    return FingerprintComparison(frozenset(agreeing), frozenset(shared - agreeing))
