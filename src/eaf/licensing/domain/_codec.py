"""Byte-exact encodings shared by license files, certificates and key sets.

Everything that gets signed passes through here, so the rules are strict on
purpose: base64url without padding and with zero trailing bits, JSON objects
without duplicate members, timestamps as whole UTC seconds. A looser reader
would accept two spellings of the same signed bytes, and a file that can be
edited without being rejected is not tamper-evident.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from eaf.licensing.domain.errors import LicenseFormatError

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as base64url without padding (RFC 7515, section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, refusing every non-canonical spelling.

    Raises:
        LicenseFormatError: characters outside the alphabet, padding, an
            impossible length, or non-zero unused bits in the last character.
    """
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise LicenseFormatError("invalid base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise LicenseFormatError("invalid base64url text") from exc
    # The decoder ignores the unused low bits of the last character, so two
    # texts can decode to the same bytes; only the canonical one is accepted.
    if b64url_encode(data) != text:
        raise LicenseFormatError("non-canonical base64url text")
    return data


def canonical_json(value: object) -> bytes:
    """Serialise ``value`` as sorted-key, space-free UTF-8 JSON."""
    text = json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise LicenseFormatError(f"duplicate JSON member {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise LicenseFormatError(f"JSON constant {name} is not allowed")


def parse_json_object(data: bytes | str) -> dict[str, Any]:
    """Parse a JSON object, refusing duplicate members, NaN and Infinity."""
    try:
        value = json.loads(
            data,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LicenseFormatError("not valid UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise LicenseFormatError("expected a JSON object")
    return value


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return to_utc_seconds(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Parse the one timestamp spelling :func:`format_timestamp` writes."""
    if not _TIMESTAMP.fullmatch(text):
        raise LicenseFormatError(f"timestamp {text!r} is not YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise LicenseFormatError(f"timestamp {text!r} is not a date") from exc


def to_utc_seconds(moment: datetime) -> datetime:
    """Convert an aware datetime to UTC and drop sub-second precision."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise LicenseFormatError("timestamps must carry a time zone")
    try:
        return moment.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past year 9999
        raise LicenseFormatError("timestamp out of range") from None


def get_str(data: Mapping[str, Any], key: str) -> str:
    """Read a required non-empty string member."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise LicenseFormatError(f"member {key!r} must be a non-empty string")
    return value


def get_int(data: Mapping[str, Any], key: str) -> int:
    """Read a required non-negative integer member (booleans refused)."""
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LicenseFormatError(f"member {key!r} must be a non-negative integer")
    return value


def get_bool(data: Mapping[str, Any], key: str) -> bool:
    """Read a required boolean member."""
    value = data.get(key)
    if not isinstance(value, bool):
        raise LicenseFormatError(f"member {key!r} must be true or false")
    return value


def get_time(data: Mapping[str, Any], key: str) -> datetime:
    """Read a required timestamp member."""
    return parse_timestamp(get_str(data, key))


def get_optional_time(data: Mapping[str, Any], key: str) -> datetime | None:
    """Read a timestamp member that may be ``null`` (but not absent)."""
    if key not in data:
        raise LicenseFormatError(f"member {key!r} is missing")
    if data[key] is None:
        return None
    return get_time(data, key)


def get_object(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Read a required JSON object member."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise LicenseFormatError(f"member {key!r} must be an object")
    return value


def get_str_list(data: Mapping[str, Any], key: str) -> list[str]:
    """Read a required list of non-empty strings without duplicates."""
    value = data.get(key)
    if not isinstance(value, list):
        raise LicenseFormatError(f"member {key!r} must be a list")
    if not all(isinstance(item, str) and item for item in value):
        raise LicenseFormatError(f"member {key!r} must hold non-empty strings")
    if len(set(value)) != len(value):
        raise LicenseFormatError(f"member {key!r} holds duplicates")
    return list(value)


def get_int_map(data: Mapping[str, Any], key: str) -> dict[str, int]:
    """Read a required object whose members are non-negative integers."""
    value = get_object(data, key)
    return {name: get_int(value, name) for name in value}


def get_str_map(data: Mapping[str, Any], key: str) -> dict[str, str]:
    """Read a required object whose members are non-empty strings."""
    value = get_object(data, key)
    return {name: get_str(value, name) for name in value}
