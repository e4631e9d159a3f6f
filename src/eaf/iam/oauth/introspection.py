"""Token introspection (RFC 7662), revocation (RFC 7009) and userinfo (OIDC)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError

from eaf.application.repository import Repository
from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.domain.rules import is_uuid
from eaf.iam.domain.user import User
from eaf.iam.oauth import store
from eaf.iam.oauth.grants import OAuthServer, client_credentials_of
from eaf.iam.tokens import InvalidTokenError, TokenVerifier

INACTIVE: dict[str, Any] = {"active": False}

_INTROSPECTED_CLAIMS = (
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "scope",
    "client_id",
    "tenant",
    "roles",
    "permissions",
)


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has the three parts of a compact JWS."""
    return token.count(".") == 2


class TokenInspector:
    """Answers questions about tokens, checking the IAM's current state.

    Unlike offline verification, introspection sees revocations, deactivated
    users, deleted service accounts and suspended tenants at once.
    """

    def __init__(
        self,
        db: Database,
        store_: PostgresEventStore,
        verifier: TokenVerifier,
        oauth: OAuthServer,
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.verifier = verifier
        self.oauth = oauth
        self.users = Repository(store_, User, snapshot_every)

    async def introspect(
        self, slug: str, form: dict[str, str], authorization: str | None
    ) -> dict[str, Any]:
        """RFC 7662: only the tenant's service accounts may ask."""
        await self.oauth.service_account(
            slug, client_credentials_of(form, authorization)
        )
        token = form.get("token")
        if not token:
            raise InvalidRequestError("token is required")
        if form.get("token_type_hint") != "refresh_token" and looks_like_jwt(token):
            return await self._access_token(slug, token) or INACTIVE
        return await self._refresh_token(slug, token) or INACTIVE

    async def _access_token(self, slug: str, token: str) -> dict[str, Any] | None:
        claims = await self.valid_access_claims(slug, token)
        if claims is None:
            return None
        answer = {key: claims[key] for key in _INTROSPECTED_CLAIMS if key in claims}
        answer["active"] = True
        answer["token_type"] = "Bearer"  # noqa: S105 - a token type
        answer["username"] = claims.get("preferred_username")
        return answer

    async def valid_access_claims(self, slug: str, token: str) -> dict[str, Any] | None:
        """The claims if the token is valid now, for this tenant; else None."""
        try:
            claims = await self.verifier.verify_claims(token)
        except InvalidTokenError:
            return None
        return claims if claims.get("tenant") == slug else None

    async def _refresh_token(self, slug: str, token: str) -> dict[str, Any] | None:
        found = await store.find_refresh_token(self.db, slug, token)
        if found is None or not found[1]:
            return None
        record, _, expires_at = found
        if not await self.verifier.principals.is_active(slug, record.subject):
            return None
        return {
            "active": True,
            "token_type": "refresh_token",
            "sub": record.subject,
            "client_id": record.client_id,
            "scope": record.scope,
            "exp": int(expires_at.timestamp()),
            "tenant": slug,
        }

    async def revoke(
        self, slug: str, form: dict[str, str], authorization: str | None
    ) -> None:
        """RFC 7009: end a token of the calling client; unknown tokens are fine."""
        client = client_credentials_of(form, authorization)
        if client.secret:
            client_id = (await self.oauth.service_account(slug, client)).client_id
        else:
            client_id = await self.oauth.public_client(slug, client)
        token = form.get("token")
        if not token:
            raise InvalidRequestError("token is required")
        if looks_like_jwt(token):
            await self._revoke_access(slug, token, client_id)
            return
        found = await store.find_refresh_token(self.db, slug, token)
        if found is not None and found[0].client_id == client_id:
            async with self.db.transaction(slug) as conn:
                await store.revoke_family(conn, found[0].family_id)

    async def _revoke_access(self, slug: str, token: str, client_id: str) -> None:
        # Only the signature counts: a token of a deactivated user or a
        # suspended tenant must stay revoked if either comes back.
        try:
            claims = await self.verifier.verify_signature(token)
        except InvalidTokenError:
            return  # expired or invalid already: nothing left to revoke
        if claims.get("tenant") == slug and claims.get("client_id") == client_id:
            await store.revoke_access_token(
                self.db, slug, str(claims["jti"]), int(claims["exp"])
            )

    async def userinfo(self, slug: str, token: str) -> dict[str, Any]:
        """OpenID Connect userinfo of the token's subject."""
        claims = await self.valid_access_claims(slug, token)
        if claims is None:
            raise InvalidTokenError("the access token is not valid for this realm")
        info: dict[str, Any] = {
            "sub": claims["sub"],
            "preferred_username": claims.get("preferred_username"),
            "tenant": slug,
            "roles": claims.get("roles", []),
            "permissions": claims.get("permissions", []),
        }
        subject = str(claims["sub"])
        user = await self.users.load(slug, subject) if is_uuid(subject) else None
        if user is not None:
            info["preferred_username"] = user.username
            if "email" in str(claims.get("scope", "")).split():
                info["email"] = user.email
            if user.display_name:
                info["name"] = user.display_name
        return info
