"""Access-token claims: the one place that decides whether a JWT is acceptable.

Both the IAM service (with its own keys) and other services (with keys from a
remote JWKS) verify tokens through these functions, so the rules cannot drift.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from eaf.context import ExecutionContext
from eaf.errors import AuthenticationError

ALGORITHM = "RS256"
AUDIENCE = "eaf"
# RFC 9068 media type; keeps ID tokens out of API calls.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a token type, not a secret
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "aud", "jti"]


class InvalidTokenError(AuthenticationError):
    """A bearer token was malformed, badly signed, expired or not for us."""

    code = "invalid-token"


def _b64_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError) as exc:
        raise InvalidTokenError("malformed token") from exc
    if not isinstance(value, dict):
        raise InvalidTokenError("malformed token")
    return value


def read_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, not yet trusted: only to choose issuer and key."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 16_384:
        raise InvalidTokenError("malformed token")
    header, claims = _b64_json(parts[0]), _b64_json(parts[1])
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError(f"tokens must be signed with {ALGORITHM}")
    if str(header.get("typ", "")).lower() != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError(f"token type must be {ACCESS_TOKEN_TYPE}")
    if not isinstance(header.get("kid"), str):
        raise InvalidTokenError("token names no signing key")
    return header, claims


def rsa_key_from_jwk(jwk: dict[str, Any]) -> RSAPublicKey:
    """The RSA public key of a JWKS entry; refuses anything else."""
    if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise InvalidTokenError("published key is not an RS256 key")
    try:
        key = RSAAlgorithm.from_jwk(jwk)
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidTokenError("published key is malformed") from exc
    if not isinstance(key, RSAPublicKey):
        raise InvalidTokenError("published key is not an RSA public key")
    return key


def decode_claims(
    token: str,
    key: RSAPublicKey,
    *,
    issuer: str,
    audience: str = AUDIENCE,
    leeway_s: float = 30.0,
) -> dict[str, Any]:
    """Check signature, issuer, audience and lifetime; return the claims."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"token rejected: {exc}") from exc
    return claims


def context_from_claims(claims: dict[str, Any]) -> ExecutionContext:
    """The security context a verified token stands for."""
    tenant_id = claims.get("tenant")
    if not isinstance(tenant_id, str):
        raise InvalidTokenError("token names no tenant")
    return ExecutionContext(
        tenant_id=tenant_id,
        actor=str(claims["sub"]),
        actor_tenant=tenant_id,
        roles=_names(claims.get("roles")),
        permissions=_names(claims.get("permissions")),
    )


def _names(value: object) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(item) for item in value)
