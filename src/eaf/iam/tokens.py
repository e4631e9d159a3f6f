"""Issuing and verifying access tokens (JWT, RS256, per-tenant issuers)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from eaf.context import ExecutionContext
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.adapters.keys import ALGORITHM, KeyStore
from eaf.iam.domain.rules import SLUG
from eaf.iam.oauth.store import is_access_token_revoked
from eaf.iam.principals import PrincipalDirectory
from eaf.security.claims import (
    ACCESS_TOKEN_TYPE,
    AUDIENCE,
    InvalidTokenError,
    context_from_claims,
    decode_claims,
    read_unverified,
    rsa_key_from_jwk,
)

__all__ = [
    "AUDIENCE",
    "Grant",
    "InvalidTokenError",
    "IssuedToken",
    "TenantStatusCache",
    "TokenIssuer",
    "TokenVerifier",
]


@dataclass(frozen=True)
class Grant:
    """Who a token is for and what it carries."""

    tenant_id: str
    subject: str
    username: str
    roles: list[str]
    permissions: list[str]
    client_id: str
    scope: str
    email: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A signed access token, its id and lifetime."""

    token: str
    jti: str
    expires_in: int


class TokenIssuer:
    """Signs access and ID tokens with the tenant's active key."""

    def __init__(
        self, keys: KeyStore, issuer_for: Callable[[str], str], ttl_s: int = 900
    ) -> None:
        self.keys = keys
        self.issuer_for = issuer_for
        self.ttl_s = ttl_s

    async def issue_access(self, grant: Grant) -> IssuedToken:
        """An access token for ``grant``."""
        now = int(time.time())
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self.issuer_for(grant.tenant_id),
            "sub": grant.subject,
            "aud": AUDIENCE,
            "azp": grant.client_id,
            "client_id": grant.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": jti,
            "tenant": grant.tenant_id,
            "roles": grant.roles,
            "permissions": grant.permissions,
            "preferred_username": grant.username,
            "scope": grant.scope,
        }
        token = await self._sign(grant.tenant_id, claims, ACCESS_TOKEN_TYPE)
        return IssuedToken(token, jti, self.ttl_s)

    async def issue_id_token(
        self, grant: Grant, *, nonce: str | None, auth_time: int
    ) -> str:
        """An OpenID Connect ID token for the client (its audience)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer_for(grant.tenant_id),
            "sub": grant.subject,
            "aud": grant.client_id,
            "azp": grant.client_id,
            "iat": now,
            "exp": now + self.ttl_s,
            "auth_time": auth_time,
            "tenant": grant.tenant_id,
            "preferred_username": grant.username,
        }
        if nonce:
            claims["nonce"] = nonce
        if grant.email:
            claims["email"] = grant.email
        if grant.name:
            claims["name"] = grant.name
        return await self._sign(grant.tenant_id, claims, "JWT")

    async def _sign(self, tenant_id: str, claims: dict[str, Any], typ: str) -> str:
        key = await self.keys.active_key(tenant_id)
        return jwt.encode(
            claims,
            key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": key.kid, "typ": typ},
        )


class TenantStatusCache:
    """Tenant status for logins and token checks, optionally cached.

    With ``ttl_s`` 0 (the default) every check reads ``iam_tenants``, so a
    suspension counts at once in every process. A positive ``ttl_s`` saves
    that primary-key lookup at the price of other processes taking up to
    ``ttl_s`` to notice; this process forgets its entry at once either way.
    """

    def __init__(self, db: Database, ttl_s: float = 0.0) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, str | None]] = {}

    async def status(self, slug: str) -> str | None:
        """``active``, ``suspended``, or None for an unknown tenant."""
        cached = self._entries.get(slug)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT status FROM iam_tenants WHERE slug = %s", (slug,)
            )
            row = await cur.fetchone()
        if row is None:
            return None  # not cached: the tenant may be created any moment
        status = str(row["status"])
        if self.ttl_s > 0:
            self._entries[slug] = (time.monotonic() + self.ttl_s, status)
        return status

    def invalidate(self, slug: str) -> None:
        """Forget the cached status (after a suspension or reactivation)."""
        self._entries.pop(slug, None)


class TokenVerifier:
    """Verifies tokens against the tenant's keys and the IAM's current state.

    Besides signature and claims, a token must belong to an active tenant,
    must not have been revoked, and its user or service account must still be
    active: each of these counts from the moment it is committed.
    """

    def __init__(
        self,
        keys: KeyStore,
        issuer_for: Callable[[str], str],
        tenant_status: TenantStatusCache | None = None,
        leeway_s: float = 30.0,
        principals: PrincipalDirectory | None = None,
    ) -> None:
        self.keys = keys
        self.issuer_for = issuer_for
        self.tenant_status = tenant_status or TenantStatusCache(keys.db)
        self.leeway_s = leeway_s
        self.principals = principals or PrincipalDirectory(
            keys.db, PostgresEventStore(keys.db)
        )

    async def verify(self, token: str) -> ExecutionContext:
        """The caller's context; raises ``InvalidTokenError`` for any bad token."""
        claims = await self.verify_claims(token)
        return context_from_claims(claims)

    async def verify_claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a live access token of an active tenant."""
        claims = await self.verify_signature(token)
        tenant_id = str(claims["tenant"])
        if await self.tenant_status.status(tenant_id) != "active":
            raise InvalidTokenError(f"tenant {tenant_id!r} is not active")
        if await is_access_token_revoked(self.keys.db, tenant_id, str(claims["jti"])):
            raise InvalidTokenError("token was revoked")
        if not await self.principals.is_active(tenant_id, str(claims["sub"])):
            raise InvalidTokenError("the token's subject is no longer active")
        return claims

    async def verify_signature(self, token: str) -> dict[str, Any]:
        """The claims of a token its tenant signed, unexpired; nothing more."""
        header, unverified = read_unverified(token)
        tenant_id = unverified.get("tenant")
        if not isinstance(tenant_id, str) or not SLUG.match(tenant_id):
            raise InvalidTokenError("token names no valid tenant")
        jwk = await self._find_key(tenant_id, header["kid"])
        return decode_claims(
            token,
            rsa_key_from_jwk(jwk),
            issuer=self.issuer_for(tenant_id),
            leeway_s=self.leeway_s,
        )

    async def _find_key(self, tenant_id: str, kid: object) -> dict[str, Any]:
        for attempt in range(2):
            for jwk in await self.keys.public_keys(tenant_id):
                if jwk.get("kid") == kid:
                    return jwk
            if attempt == 0:
                self.keys.forget(tenant_id)  # a new key may have appeared
        raise InvalidTokenError("token signed with an unknown key")
