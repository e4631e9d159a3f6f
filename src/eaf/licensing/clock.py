"""Clock tamper detection: a tamper-evident record of the latest time seen.

Turning the clock back is the cheapest way to stretch an expired license. The
product keeps the latest time it has seen in a small file, sealed with an
HMAC whose key is derived from the product, the license id and an optional
secret the vendor builds into the product. A clock that runs earlier than that
time, beyond a tolerance for ordinary corrections, is refused.

The key is derived from values the product holds, so the seal stops editing
by hand, not someone who re-implements the derivation; deleting the file
only falls back to the floor the license's own issue time gives.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from eaf.licensing._files import write_atomically
from eaf.licensing.domain import _codec
from eaf.licensing.domain.errors import (
    ClockTamperError,
    LastSeenTamperedError,
    LicenseFormatError,
)

LAST_SEEN_FORMAT = "eaf-last-seen/1"
DEFAULT_TOLERANCE = timedelta(minutes=10)


def utc_now() -> datetime:
    """The current time as an aware UTC datetime: the default clock."""
    return datetime.now(UTC)


def derive_state_key(product: str, license_id: str, secret: bytes = b"") -> bytes:
    """The HMAC key sealing the last-seen file of one license of one product."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=LAST_SEEN_FORMAT.encode(),
        info=f"{product}\0{license_id}".encode(),
    )
    return hkdf.derive(secret)


def check_clock(now: datetime, floor: datetime, tolerance: timedelta) -> None:
    """Raise :class:`ClockTamperError` when ``now`` is before ``floor - tolerance``."""
    if now < floor - tolerance:
        raise ClockTamperError(
            f"clock reads {_codec.format_timestamp(now)}, but "
            f"{_codec.format_timestamp(floor)} has already been seen"
        )


class LastSeenStore:
    """The sealed last-seen time of one license, kept in one file."""

    def __init__(
        self, path: Path, key: bytes, tolerance: timedelta = DEFAULT_TOLERANCE
    ) -> None:
        self.path = path
        self.tolerance = tolerance
        self._key = key

    def _serialise(self, last_seen: str) -> bytes:
        body = {"format": LAST_SEEN_FORMAT, "last_seen": last_seen}
        seal = hmac.new(self._key, _codec.canonical_json(body), hashlib.sha256)
        sealed = {**body, "mac": _codec.b64url_encode(seal.digest())}
        return _codec.canonical_json(sealed) + b"\n"

    def read(self) -> datetime | None:
        """The recorded time, or ``None`` when no file exists yet.

        Raises:
            LastSeenTamperedError: the file was edited, or sealed for another
                license or product.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = _codec.parse_json_object(raw)
            last_seen = _codec.get_str(data, "last_seen")
            recorded = _codec.parse_timestamp(last_seen)
        except LicenseFormatError as exc:
            raise LastSeenTamperedError(f"{self.path.name} is damaged") from exc
        # Rebuilding the whole file checks the seal and rejects any other
        # spelling (spaces, member order) in one comparison.
        if not hmac.compare_digest(raw, self._serialise(last_seen)):
            raise LastSeenTamperedError(f"{self.path.name} has been edited")
        return recorded

    def write(self, moment: datetime) -> None:
        """Record ``moment`` (whole seconds, UTC), replacing the file."""
        write_atomically(self.path, self._serialise(_codec.format_timestamp(moment)))

    def advance(self, now: datetime) -> datetime:
        """Check ``now`` against the record, then move the record forward.

        Returns:
            The latest time seen, ``now`` included.

        Raises:
            ClockTamperError: ``now`` is earlier than the record minus the
                tolerance.
            LastSeenTamperedError: the file was edited.
        """
        now = _codec.to_utc_seconds(now)
        recorded = self.read()
        if recorded is not None:
            check_clock(now, recorded, self.tolerance)
            if now <= recorded:
                return recorded
        self.write(now)
        return now
