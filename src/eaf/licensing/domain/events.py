"""Events of the license aggregate, as plain frozen dataclasses.

Each event class names itself in ``type`` and knows nothing of storage. The
helpers at the bottom turn an event into a JSON-ready payload and back, which is
all an event store adapter needs.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from eaf.licensing.domain.errors import LicenseFormatError
from eaf.licensing.domain.machine import Fingerprint
from eaf.licensing.domain.policy import Policy


@dataclass(frozen=True, kw_only=True)
class LicenseEvent:
    """Fields every license event carries; ``license_id`` names the stream."""

    type: ClassVar[str] = "LicenseEvent"
    schema_version: ClassVar[int] = 1

    license_id: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class LicenseIssued(LicenseEvent):
    """A license was created for a customer under a policy."""

    type: ClassVar[str] = "LicenseIssued"

    product: str
    customer: str
    policy: Policy
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class LicenseRenewed(LicenseEvent):
    """The license's expiry moved (a renewal or an explicit extension)."""

    type: ClassVar[str] = "LicenseRenewed"

    previous_expires_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class LicenseSuspended(LicenseEvent):
    """The license was paused; it can be reinstated."""

    type: ClassVar[str] = "LicenseSuspended"

    reason: str


@dataclass(frozen=True, kw_only=True)
class LicenseReinstated(LicenseEvent):
    """A suspended license became active again."""

    type: ClassVar[str] = "LicenseReinstated"


@dataclass(frozen=True, kw_only=True)
class LicenseRevoked(LicenseEvent):
    """The license ended for good."""

    type: ClassVar[str] = "LicenseRevoked"

    reason: str


@dataclass(frozen=True, kw_only=True)
class MachineActivated(LicenseEvent):
    """A machine took a seat of the license."""

    type: ClassVar[str] = "MachineActivated"

    activation_id: str
    fingerprint: Fingerprint


@dataclass(frozen=True, kw_only=True)
class MachineDeactivated(LicenseEvent):
    """A machine gave its seat back."""

    type: ClassVar[str] = "MachineDeactivated"

    activation_id: str
    reason: str


EVENT_TYPES: Mapping[str, type[LicenseEvent]] = {
    cls.type: cls
    for cls in (
        LicenseIssued,
        LicenseRenewed,
        LicenseSuspended,
        LicenseReinstated,
        LicenseRevoked,
        MachineActivated,
        MachineDeactivated,
    )
}

_Encoder = Callable[[Any], Any]
_Decoder = Callable[[Any], Any]


def _decode_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise LicenseFormatError("event timestamps must be strings")
    return datetime.fromisoformat(value)


_CODECS: dict[object, tuple[_Encoder, _Decoder]] = {
    datetime: (datetime.isoformat, _decode_time),
    datetime | None: (
        lambda value: None if value is None else value.isoformat(),
        lambda value: None if value is None else _decode_time(value),
    ),
    Policy: (Policy.to_dict, Policy.from_dict),
    Fingerprint: (Fingerprint.to_dict, Fingerprint.from_dict),
}


def _field_codecs(cls: type[LicenseEvent]) -> dict[str, tuple[_Encoder, _Decoder]]:
    hints = typing.get_type_hints(cls)
    identity = (lambda value: value, lambda value: value)
    return {item.name: _CODECS.get(hints[item.name], identity) for item in fields(cls)}


def event_to_payload(event: LicenseEvent) -> dict[str, Any]:
    """A JSON-ready dict of the event's fields (its ``type`` excluded)."""
    codecs = _field_codecs(type(event))
    return {name: encode(getattr(event, name)) for name, (encode, _) in codecs.items()}


def event_from_payload(type_name: str, payload: Mapping[str, Any]) -> LicenseEvent:
    """Rebuild an event from its ``type`` and a payload of :func:`event_to_payload`.

    Raises:
        LicenseFormatError: the type is unknown or a field is missing.
    """
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise LicenseFormatError(f"unknown license event type {type_name!r}")
    codecs = _field_codecs(cls)
    missing = codecs.keys() - payload.keys()
    if missing:
        raise LicenseFormatError(f"{type_name} payload lacks {sorted(missing)}")
    values = {name: decode(payload[name]) for name, (_, decode) in codecs.items()}
    return cls(**values)
