"""Verifying EAF access tokens in any service, with keys from the IAM's JWKS."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import httpx

from eaf.context import ExecutionContext
from eaf.iam.domain.rules import SLUG
from eaf.security.claims import (
    AUDIENCE,
    InvalidTokenError,
    context_from_claims,
    decode_claims,
    read_unverified,
)
from eaf.security.jwks import JwksCache


class TokenVerifier(Protocol):
    """Anything that turns a bearer token into the caller's context."""

    async def verify(self, token: str) -> ExecutionContext:
        """The caller's context; raise ``InvalidTokenError`` for a bad token."""
        ...


def realm_of(issuer: str, iam_url: str) -> str | None:
    """The tenant slug of an issuer ``<iam_url>/realms/<slug>``, if it is one."""
    prefix = f"{iam_url.rstrip('/')}/realms/"
    if not issuer.startswith(prefix):
        return None
    slug = issuer.removeprefix(prefix)
    return slug if SLUG.match(slug) else None


class RemoteTokenVerifier:
    """Verifies tokens of every tenant of one IAM, offline after the first fetch.

    Only issuers below ``iam_url`` are trusted, and the JWKS URL is derived from
    the issuer, never taken from the token, so a forged token cannot make the
    verifier fetch keys from elsewhere.

    Args:
        iam_url: the IAM's public base URL, as in its issuers.
        tenants: if given, tokens of other tenants are refused.
        leeway_s: clock skew allowed on ``exp``, ``nbf`` and ``iat``.
    """

    def __init__(
        self,
        iam_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        jwks: JwksCache | None = None,
        audience: str = AUDIENCE,
        tenants: Collection[str] | None = None,
        leeway_s: float = 30.0,
    ) -> None:
        self.iam_url = iam_url.rstrip("/")
        self._owned_http: httpx.AsyncClient | None = None
        if jwks is None:
            if http is None:
                http = self._owned_http = httpx.AsyncClient()
            jwks = JwksCache(http)
        self.jwks = jwks
        self.audience = audience
        self.tenants = frozenset(tenants) if tenants is not None else None
        self.leeway_s = leeway_s

    async def aclose(self) -> None:
        """Close the HTTP client the verifier made for itself, if it made one."""
        if self._owned_http is not None:
            await self._owned_http.aclose()

    async def verify(self, token: str) -> ExecutionContext:
        """The caller's context; raises ``InvalidTokenError`` for any bad token."""
        header, unverified = read_unverified(token)
        issuer = unverified.get("iss")
        tenant_id = realm_of(issuer, self.iam_url) if isinstance(issuer, str) else None
        if tenant_id is None or not isinstance(issuer, str):
            raise InvalidTokenError("token issuer is not trusted")
        if unverified.get("tenant") != tenant_id:
            raise InvalidTokenError("token tenant does not match its issuer")
        if self.tenants is not None and tenant_id not in self.tenants:
            raise InvalidTokenError(f"tokens of tenant {tenant_id!r} are not accepted")
        jwks_url = f"{issuer}/protocol/openid-connect/certs"
        key = await self.jwks.key(jwks_url, str(header["kid"]))
        claims = decode_claims(
            token,
            key,
            issuer=issuer,
            audience=self.audience,
            leeway_s=self.leeway_s,
        )
        return context_from_claims(claims)
