"""Generating, rotating and revoking the vendor's license signing keys."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import structlog

from eaf.application.repository import Repository
from eaf.db.pool import Connection, Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing.adapters.keys import SigningKeyTable
from eaf.licensing.domain.errors import (
    SigningKeyNotFoundError,
    SigningKeyStateError,
)
from eaf.licensing.domain.keyset import SigningKeySet
from eaf.licensing.keyring import KeyRing
from eaf.licensing.signing import (
    KEY_SECRET_ENV,
    SigningKey,
    key_secret_from_env,
    public_jwk,
)

log = structlog.get_logger(__name__)


def licensing_key_secret(
    fallback: bytes, environ: Mapping[str, str] | None = None
) -> bytes:
    """The secret encrypting private keys: ``EAF_LICENSING_KEY_SECRET`` if set.

    Without the variable, ``fallback`` (the platform's own secret) is used.

    Raises:
        ConfigurationError: the variable is set but too short.
    """
    environ = os.environ if environ is None else environ
    if environ.get(KEY_SECRET_ENV):
        return key_secret_from_env(environ)
    return fallback


class KeyService:
    """The signing keys of one vendor: one active, older ones still published."""

    def __init__(
        self, db: Database, store: PostgresEventStore, vendor: str, secret: bytes
    ) -> None:
        self.db = db
        self.vendor = vendor
        self.repository = Repository(store, SigningKeySet)
        self.table = SigningKeyTable(vendor, secret)

    async def generate_key(self) -> dict[str, Any]:
        """Make a new active key; the previous active one is retired.

        The first call is the initial key generation, later ones rotate.
        """
        key = SigningKey.generate()
        keyset = await self.repository.load(self.vendor, self.vendor)
        keyset = keyset or SigningKeySet(self.vendor)
        retired = keyset.add_key(key.kid, public_jwk(key.public_key, key.kid))
        async with self.db.transaction(self.vendor) as conn:
            await self.table.apply_events(conn, keyset.pending_events(), key)
            await self.repository.save(self.vendor, keyset, conn=conn)
        log.info("licensing.key_generated", kid=key.kid, retired=retired)
        return {"kid": key.kid, "status": "active", "retired": retired}

    async def revoke_key(self, kid: str, reason: str = "") -> dict[str, Any]:
        """Distrust ``kid``: nothing it signed verifies any more."""
        keyset = await self.repository.load(self.vendor, self.vendor)
        if keyset is None:
            raise SigningKeyNotFoundError(f"no signing key {kid!r}", kid=kid)
        keyset.revoke(kid, reason)
        async with self.db.transaction(self.vendor) as conn:
            await self.table.apply_events(conn, keyset.pending_events())
            await self.repository.save(self.vendor, keyset, conn=conn)
        log.warning("licensing.key_revoked", kid=kid)
        return {"kid": kid, "status": "revoked"}

    async def active_key(self, conn: Connection | None = None) -> SigningKey:
        """The key that signs licenses and certificates now.

        With ``conn`` (a transaction of the vendor), the key is read there, so
        a rotation or revocation cannot slip in between reading and signing.

        Raises:
            SigningKeyStateError: no key is active.
        """
        if conn is None:
            async with self.db.transaction(self.vendor) as own_conn:
                key = await self.table.active_key(own_conn)
        else:
            key = await self.table.active_key(conn)
        if key is None:
            raise SigningKeyStateError(
                "no active license signing key; create one with "
                "`eaf license keygen` or POST /api/v1/licensing/signing-keys"
            )
        return key

    async def keyring(self) -> KeyRing:
        """All keys with their statuses, as a verifier would pin them."""
        async with self.db.transaction(self.vendor) as conn:
            return await self.table.keyring(conn)

    async def published_keys(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS products embed: active, retired and revoked keys."""
        return (await self.keyring()).to_jwks()
