"""Per-tenant signing keys for access tokens (RS256), encrypted at rest."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from eaf.db.pool import Connection, Database
from eaf.errors import NotFoundError

ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    """A tenant's private signing key and its key id."""

    kid: str
    private_key: rsa.RSAPrivateKey


def _key_id(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode().rstrip("=")
    )


def public_jwk(public_key: rsa.RSAPublicKey, kid: str) -> dict[str, Any]:
    """The JWKS entry of a public key."""
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public_key))
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return jwk


class KeyStore:
    """Creates, caches and publishes the signing keys of each tenant."""

    def __init__(
        self,
        db: Database,
        secret: bytes,
        cache_ttl_s: float = 60.0,
        public_cache_ttl_s: float = 5.0,
    ) -> None:
        self.db = db
        self.secret = secret
        self.cache_ttl_s = cache_ttl_s
        # Short, so that a key made by another replica shows up in this one's
        # JWKS soon; tokens it signs may reach verifiers that ask us.
        self.public_cache_ttl_s = public_cache_ttl_s
        self._active: dict[str, tuple[float, SigningKey]] = {}
        self._public: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    async def create_key(self, conn: Connection, tenant_id: str) -> str:
        """Generate a key for ``tenant_id`` inside the caller's transaction."""
        # Key generation takes tens of milliseconds: keep it off the event loop.
        private_key = await asyncio.to_thread(
            rsa.generate_private_key, public_exponent=65537, key_size=2048
        )
        kid = _key_id(private_key.public_key())
        encrypted = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self.secret),
        )
        await conn.execute(
            "INSERT INTO iam_signing_keys (tenant_id, kid, algorithm, private_key, "
            "public_jwk) VALUES (%s, %s, %s, %s, %s::jsonb)",
            (
                tenant_id,
                kid,
                ALGORITHM,
                encrypted,
                json.dumps(public_jwk(private_key.public_key(), kid)),
            ),
        )
        return kid

    async def active_key(self, tenant_id: str) -> SigningKey:
        """The newest unretired key, decrypted and cached for a short while."""
        cached = self._active.get(tenant_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.transaction(tenant_id) as conn:
            cur = await conn.execute(
                "SELECT kid, private_key FROM iam_signing_keys "
                "WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1"
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"tenant {tenant_id!r} has no signing key")
        private_key = serialization.load_pem_private_key(
            bytes(row["private_key"]),
            password=self.secret,
        )
        assert isinstance(private_key, rsa.RSAPrivateKey)
        key = SigningKey(kid=str(row["kid"]), private_key=private_key)
        self._active[tenant_id] = (time.monotonic() + self.cache_ttl_s, key)
        return key

    async def rotate(
        self, conn: Connection, tenant_id: str, publish_for_s: int
    ) -> tuple[str, list[str]]:
        """Make a new active key; retire the old ones but keep them published.

        A retired key stays in the JWKS for ``publish_for_s`` seconds, which must
        cover the lifetime of every token it signed.
        """
        cur = await conn.execute(
            "UPDATE iam_signing_keys SET retired_at = now(), "
            "publish_until = now() + make_interval(secs => %s) "
            "WHERE retired_at IS NULL RETURNING kid",
            (publish_for_s,),
        )
        retired = sorted(str(row["kid"]) for row in await cur.fetchall())
        kid = await self.create_key(conn, tenant_id)
        return kid, retired

    async def list_keys(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every key of the tenant with its dates, newest first; no secrets."""
        async with self.db.transaction(tenant_id) as conn:
            cur = await conn.execute(
                "SELECT kid, algorithm, created_at, retired_at, publish_until, "
                "(publish_until IS NULL OR publish_until > now()) AS is_published "
                "FROM iam_signing_keys ORDER BY created_at DESC"
            )
            return list(await cur.fetchall())

    async def public_keys(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's JWKS entries: the active key and retired ones still due."""
        cached = self._public.get(tenant_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.transaction(tenant_id) as conn:
            cur = await conn.execute(
                "SELECT public_jwk FROM iam_signing_keys "
                "WHERE publish_until IS NULL OR publish_until > now() "
                "ORDER BY created_at"
            )
            keys = [dict(row["public_jwk"]) for row in await cur.fetchall()]
        self._public[tenant_id] = (time.monotonic() + self.public_cache_ttl_s, keys)
        return keys

    def forget(self, tenant_id: str) -> None:
        """Drop cached keys of ``tenant_id`` (after a rotation, or an unknown kid)."""
        self._active.pop(tenant_id, None)
        self._public.pop(tenant_id, None)
