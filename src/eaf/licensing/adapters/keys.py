"""License signing keys in PostgreSQL, private halves encrypted at rest.

The table mirrors the key set aggregate: each of its events is applied to the
rows in the transaction that appends it. A partial unique index allows one
active key per vendor, so two concurrent rotations cannot both succeed.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from eaf.application.aggregate import DomainEvent
from eaf.db.pool import Connection
from eaf.licensing.domain.errors import SigningKeyStateError
from eaf.licensing.domain.keyset import (
    SigningKeyGenerated,
    SigningKeyRetired,
    SigningKeyRevoked,
)
from eaf.licensing.keyring import KeyRing, PublishedKey
from eaf.licensing.signing import SigningKey


class SigningKeyTable:
    """Rows of ``licensing_signing_keys`` for one vendor tenant."""

    def __init__(self, tenant_id: str, secret: bytes) -> None:
        self.tenant_id = tenant_id
        self._secret = secret
        self._decrypted: dict[str, SigningKey] = {}

    async def apply_events(
        self,
        conn: Connection,
        events: list[DomainEvent],
        new_key: SigningKey | None = None,
    ) -> None:
        """Bring the rows in line with the key set's new events.

        ``new_key`` is the private key a ``SigningKeyGenerated`` event names.
        """
        for event in events:
            match event:
                case SigningKeyGenerated(kid=kid, public_jwk=jwk):
                    if new_key is None or new_key.kid != kid:
                        raise ValueError(f"the private key of {kid!r} is missing")
                    await self._insert(conn, new_key, jwk)
                case SigningKeyRetired(kid=kid):
                    await self._set_status(conn, kid, "retired", "retired_at")
                case SigningKeyRevoked(kid=kid):
                    await self._set_status(conn, kid, "revoked", "revoked_at")

    async def _insert(
        self, conn: Connection, key: SigningKey, jwk: dict[str, str]
    ) -> None:
        encrypted = key.to_encrypted_pem(self._secret)
        try:
            await conn.execute(
                "INSERT INTO licensing_signing_keys (tenant_id, kid, status, "
                "private_key, public_jwk) VALUES (%s, %s, 'active', %s, %s::jsonb)",
                (self.tenant_id, key.kid, encrypted, json.dumps(jwk)),
            )
        except psycopg.errors.UniqueViolation as exc:
            # The partial index allows one active key: a rotation raced ours.
            raise SigningKeyStateError(
                "another signing key was generated at the same time; retry"
            ) from exc

    async def _set_status(
        self, conn: Connection, kid: str, status: str, stamp_column: str
    ) -> None:
        await conn.execute(
            f"UPDATE licensing_signing_keys SET status = %s, {stamp_column} = now() "  # noqa: S608 - fixed names
            "WHERE tenant_id = %s AND kid = %s",
            (status, self.tenant_id, kid),
        )

    async def active_key(self, conn: Connection) -> SigningKey | None:
        """The decrypted active key, or ``None`` when there is none."""
        cur = await conn.execute(
            "SELECT kid FROM licensing_signing_keys "
            "WHERE tenant_id = %s AND status = 'active'",
            (self.tenant_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        kid = str(row["kid"])
        cached = self._decrypted.get(kid)
        if cached is not None:
            return cached
        cur = await conn.execute(
            "SELECT private_key FROM licensing_signing_keys "
            "WHERE tenant_id = %s AND kid = %s",
            (self.tenant_id, kid),
        )
        key_row = await cur.fetchone()
        assert key_row is not None
        key = SigningKey.from_encrypted_pem(bytes(key_row["private_key"]), self._secret)
        self._decrypted[kid] = key
        return key

    async def keyring(self, conn: Connection) -> KeyRing:
        """Every key ever made, public halves only, with its current status."""
        cur = await conn.execute(
            "SELECT public_jwk, status FROM licensing_signing_keys "
            "WHERE tenant_id = %s ORDER BY created_at, kid",
            (self.tenant_id,),
        )
        rows: list[dict[str, Any]] = list(await cur.fetchall())
        return KeyRing(
            PublishedKey.from_jwk({**row["public_jwk"], "status": row["status"]})
            for row in rows
        )
