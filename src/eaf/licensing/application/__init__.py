"""The licensing service: catalog, keys, licenses and EAF's own license.

:class:`Licensing` wires the parts for one vendor tenant (the platform
tenant); the HTTP router and the CLI use it, never the adapters.
"""

from __future__ import annotations

from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing.application.catalog import CatalogService, policy_view, product_view
from eaf.licensing.application.keys import KeyService, licensing_key_secret
from eaf.licensing.application.licenses import (
    ActivationResult,
    Clock,
    LicenseService,
    activation_views,
    license_view,
)
from eaf.licensing.application.platform_license import (
    PLATFORM_PRODUCT,
    LicensedUserQuota,
    PlatformLicenseService,
)
from eaf.licensing.clock import utc_now
from eaf.licensing.keyring import KeyRing


class Licensing:
    """Every licensing use case of one vendor tenant.

    Args:
        vendor: the tenant that owns products, policies, keys and licenses.
        key_secret: encrypts the private signing keys at rest.
        vendor_keys: keys trusted for EAF's own license besides this
            installation's; defaults to the keys built into the release.
    """

    def __init__(
        self,
        db: Database,
        store: PostgresEventStore,
        *,
        vendor: str,
        key_secret: bytes,
        clock: Clock = utc_now,
        vendor_keys: KeyRing | None = None,
    ) -> None:
        self.vendor = vendor
        self.catalog = CatalogService(db, store, vendor)
        self.keys = KeyService(db, store, vendor, key_secret)
        self.licenses = LicenseService(
            db, store, vendor, self.catalog, self.keys, clock=clock
        )
        self.platform_license = PlatformLicenseService(
            db, self.keys, vendor_keys=vendor_keys, clock=clock
        )
        self.user_quota = LicensedUserQuota(clock)


__all__ = [
    "PLATFORM_PRODUCT",
    "ActivationResult",
    "CatalogService",
    "KeyService",
    "LicenseService",
    "LicensedUserQuota",
    "Licensing",
    "PlatformLicenseService",
    "activation_views",
    "licensing_key_secret",
    "license_view",
    "policy_view",
    "product_view",
]
