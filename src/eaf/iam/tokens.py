"""Issuing and verifying access tokens (JWT, RS256, per-tenant issuers)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from eaf.context import ExecutionContext
from eaf.errors import AuthenticationError
from eaf.iam.adapters.keys import ALGORITHM, KeyStore
from eaf.iam.domain.rules import SLUG

AUDIENCE = "eaf"


class InvalidTokenError(AuthenticationError):
    code = "invalid-token"


class TokenIssuer:
    """Signs access tokens with the tenant's active key."""

    def __init__(
        self, keys: KeyStore, issuer_for: Callable[[str], str], ttl_s: int = 900
    ) -> None:
        self.keys = keys
        self.issuer_for = issuer_for
        self.ttl_s = ttl_s

    async def issue(
        self,
        tenant_id: str,
        subject: str,
        username: str,
        roles: list[str],
        client_id: str,
    ) -> tuple[str, int]:
        key = await self.keys.active_key(tenant_id)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer_for(tenant_id),
            "sub": subject,
            "aud": AUDIENCE,
            "azp": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": str(uuid.uuid4()),
            "tenant": tenant_id,
            "roles": roles,
            "preferred_username": username,
            "scope": "openid profile",
        }
        token = jwt.encode(
            claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}
        )
        return token, self.ttl_s


class TokenVerifier:
    """Checks signature, issuer, audience and lifetime; yields the caller's context."""

    def __init__(self, keys: KeyStore, issuer_for: Callable[[str], str]) -> None:
        self.keys = keys
        self.issuer_for = issuer_for

    async def verify(self, token: str) -> ExecutionContext:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"malformed token: {exc}") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError(f"tokens must be signed with {ALGORITHM}")
        tenant_id = unverified.get("tenant")
        if not isinstance(tenant_id, str) or not SLUG.match(tenant_id):
            raise InvalidTokenError("token names no valid tenant")
        jwk = await self._find_key(tenant_id, header.get("kid"))
        public_key = RSAAlgorithm.from_jwk(jwk)
        if not isinstance(public_key, RSAPublicKey):
            raise InvalidTokenError("published key is not an RSA public key")
        try:
            claims = jwt.decode(
                token,
                key=public_key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self.issuer_for(tenant_id),
                options={"require": ["exp", "iat", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"token rejected: {exc}") from exc
        roles = claims.get("roles") or []
        return ExecutionContext(
            tenant_id=tenant_id,
            actor=str(claims["sub"]),
            roles=frozenset(str(role) for role in roles),
        )

    async def _find_key(self, tenant_id: str, kid: object) -> dict[str, Any]:
        for attempt in range(2):
            for jwk in await self.keys.public_keys(tenant_id):
                if jwk.get("kid") == kid:
                    return jwk
            if attempt == 0:
                self.keys.forget(tenant_id)  # a new key may have appeared
        raise InvalidTokenError("token signed with an unknown key")
