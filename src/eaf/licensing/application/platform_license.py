"""EAF's own license: installing it, and the users limit IAM must respect.

The installed license lives in one installation-wide row. It is verified
once, when installed, against the trusted keys: the EAF vendor's keys built
into the release (:data:`VENDOR_JWKS`) and this installation's own licensing
keys. Its terms are stored beside it, so IAM's check needs no key and no
second connection.

With no license installed nothing is limited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from psycopg.types.json import Jsonb

from eaf.db.pool import Connection, Database
from eaf.licensing.application.keys import KeyService
from eaf.licensing.clock import utc_now
from eaf.licensing.domain import _codec
from eaf.licensing.domain.document import LicenseStatus, classify_moment
from eaf.licensing.domain.errors import (
    LicenseRejectedError,
    LicensingError,
    UserLimitReachedError,
)
from eaf.licensing.keyring import KeyRing
from eaf.licensing.license_file import VerifiedLicense, verify_license

log = structlog.get_logger(__name__)

PLATFORM_PRODUCT = "eaf"
USERS_LIMIT = "users"

VENDOR_JWKS: Mapping[str, Any] = {"keys": []}
"""The EAF vendor's published keys; the release build embeds them here."""

# Serialises user creation across tenants while a users limit applies, so
# two concurrent creations cannot both take the last free user.
_USERS_LOCK_KEY = 0x4541465F55534552  # "EAF_USER"

_SELECT_INSTALLED = (
    "SELECT license_id, product, customer, limits, not_before, expires_at, "
    "grace_days, installed_at, installed_by FROM licensing_platform_license"
)

Clock = Callable[[], datetime]


def trusted_keyring(vendor_keys: KeyRing, own_keys: KeyRing) -> KeyRing:
    """The vendor's keys, plus this installation's keys not already among them."""
    ring = KeyRing(vendor_keys)
    for key in own_keys:
        if key.kid not in ring:
            ring.add(key.public_key, kid=key.kid, status=key.status)
    return ring


def installed_status(row: Mapping[str, Any], now: datetime) -> LicenseStatus:
    """Where ``now`` falls in the installed license's validity window."""
    return classify_moment(
        now,
        not_before=row["not_before"],
        expires_at=row["expires_at"],
        grace_days=row["grace_days"],
    )


class PlatformLicenseService:
    """Installs and reports the license EAF itself runs under."""

    def __init__(
        self,
        db: Database,
        keys: KeyService,
        *,
        vendor_keys: KeyRing | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.keys = keys
        self.vendor_keys = vendor_keys or KeyRing.from_jwks(VENDOR_JWKS)
        self.clock = clock

    async def install(
        self, text: str, *, installed_by: str | None = None
    ) -> dict[str, Any]:
        """Verify a license file for product ``eaf`` and make it the platform's.

        Raises:
            LicenseRejectedError: it does not verify, is for another product,
                or has already expired.
        """
        verified = await self._verify(text)
        document = verified.document
        if document.product != PLATFORM_PRODUCT:
            raise LicenseRejectedError(
                f"the license is for product {document.product!r}; the platform "
                f"needs a license for {PLATFORM_PRODUCT!r}"
            )
        if document.status_at(self.clock()) is LicenseStatus.EXPIRED:
            raise LicenseRejectedError(f"license {document.license_id} has expired")
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO licensing_platform_license (singleton, license_id, "
                "product, customer, license_text, limits, not_before, expires_at, "
                "grace_days, installed_by) "
                "VALUES (true, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (singleton) DO UPDATE SET "
                "license_id = excluded.license_id, product = excluded.product, "
                "customer = excluded.customer, license_text = excluded.license_text, "
                "limits = excluded.limits, not_before = excluded.not_before, "
                "expires_at = excluded.expires_at, grace_days = excluded.grace_days, "
                "installed_by = excluded.installed_by, installed_at = now()",
                (
                    document.license_id,
                    document.product,
                    document.customer,
                    text.strip(),
                    Jsonb(dict(document.limits)),
                    document.not_before,
                    document.expires_at,
                    document.grace_days,
                    installed_by,
                ),
            )
        log.info("licensing.platform_license_installed", license_id=document.license_id)
        return await self.current() or {}

    async def current(self) -> dict[str, Any] | None:
        """The installed license's terms and status, or ``None``."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(_SELECT_INSTALLED)
            row = await cur.fetchone()
        if row is None:
            return None
        return {**row, "status": str(installed_status(row, self.clock()))}

    async def _verify(self, text: str) -> VerifiedLicense:
        trusted = trusted_keyring(self.vendor_keys, await self.keys.keyring())
        try:
            return verify_license(text.strip(), trusted)
        except LicenseRejectedError:
            raise
        except LicensingError as exc:
            raise LicenseRejectedError(f"the license does not verify: {exc}") from exc


class LicensedUserQuota:
    """IAM's user quota from the installed platform license's ``users`` limit."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock

    async def admit_user(self, conn: Connection, tenant_id: str) -> None:
        """Refuse one more user when the platform license does not allow it.

        Runs inside the transaction that creates the user.

        Raises:
            UserLimitReachedError: the limit is reached or the license expired.
        """
        cur = await conn.execute(_SELECT_INSTALLED)
        row = await cur.fetchone()
        if row is None:
            return
        license_id = str(row["license_id"])
        if installed_status(row, self.clock()) is LicenseStatus.EXPIRED:
            expired = _codec.format_timestamp(row["expires_at"])
            raise UserLimitReachedError(
                f"the platform license {license_id} expired at {expired} and its "
                "grace period is over; install a renewed license with "
                "`eaf license install FILE` to add users",
                license_id=license_id,
            )
        limit = row["limits"].get(USERS_LIMIT)
        if limit is None:
            return
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_USERS_LOCK_KEY,))
        cur = await conn.execute("SELECT licensing_count_users() AS users")
        counted = await cur.fetchone()
        users = int(counted["users"]) if counted else 0
        if users >= limit:
            raise UserLimitReachedError(
                f"the platform license {license_id} allows {limit} users and "
                f"{users} exist; install a license with a higher users limit "
                "(`eaf license install FILE`) before adding users",
                license_id=license_id,
                tenant=tenant_id,
            )
