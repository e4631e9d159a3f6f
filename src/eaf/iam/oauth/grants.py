"""The token endpoint: password, client_credentials, refresh_token and
authorization_code (with PKCE) grants, written for asyncio.

Why not Authlib's ``AuthorizationServer`` and grant classes: they call their
storage hooks (``query_client``, ``authenticate_user``, ``save_token``, ...)
synchronously, one after another, while our storage is async psycopg. Bridging
would run each request in a worker thread that blocks on coroutines sent back
to the event loop, with deadlock risk once the thread pool is busy with argon2,
and refresh-token rotation needs its lookup, reuse check and replacement in one
locked transaction, which those separate hooks cannot share. So the grant
logic is ours; Authlib supplies the parts without I/O: its RFC 6749 error
classes (error codes, statuses and bodies), its RFC 7636 S256 check, and its
parsing of scopes. Basic client credentials are parsed here: Authlib's parser
ignores a malformed header, where RFC 6749 section 5.2 wants a 401.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import structlog
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge

from eaf.application.repository import Repository
from eaf.db.pool import Database
from eaf.errors import AuthenticationError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.access import CLI_CLIENT_ID, AccessService, ServiceAccountPrincipal
from eaf.iam.credentials import AccountLockedError, CredentialService
from eaf.iam.domain.rules import is_uuid
from eaf.iam.domain.user import User
from eaf.iam.oauth import store
from eaf.iam.tokens import Grant, TenantStatusCache, TokenIssuer

log = structlog.get_logger(__name__)

SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access")
DEFAULT_SCOPE = "openid profile"
GRANT_TYPES = ("password", "client_credentials", "refresh_token", "authorization_code")


@dataclass(frozen=True)
class ClientCredentials:
    """What a request said about its client: id and, if any, secret."""

    client_id: str | None
    secret: str | None
    via_header: bool


def client_credentials_of(
    form: dict[str, str], authorization: str | None
) -> ClientCredentials:
    """Client id and secret from HTTP Basic, or else from the form body.

    Raises:
        InvalidClientError: 401 with ``WWW-Authenticate: Basic`` when the
            request tried HTTP Basic but its credentials cannot be read
            (RFC 6749 section 5.2).
    """
    basic = basic_credentials(authorization)
    if basic is not None:
        return ClientCredentials(basic[0], basic[1], via_header=True)
    return ClientCredentials(
        form.get("client_id"), form.get("client_secret"), via_header=False
    )


def basic_credentials(authorization: str | None) -> tuple[str, str | None] | None:
    """Client id and secret of an HTTP Basic header; ``None`` without one.

    Other schemes are ignored, as before: the form body may then carry the
    client. A Basic header that is not base64 of UTF-8 ``id[:secret]`` (both
    form-urlencoded, RFC 6749 section 2.3.1) fails client authentication.
    """
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise _basic_failed("malformed Basic credentials") from None
    client_id, colon, secret = text.partition(":")
    client_id = unquote(client_id)
    password = unquote(secret) if colon else None
    if not client_id or "\x00" in client_id or "\x00" in (password or ""):
        raise _basic_failed("malformed Basic credentials")
    return client_id, password


def _basic_failed(description: str) -> InvalidClientError:
    return InvalidClientError(description, status_code=401)


def checked_scope(
    requested: str | None,
    default: str = DEFAULT_SCOPE,
    granted: str | None = None,
) -> str:
    """The scope to grant: ``default`` if none is asked for.

    ``granted`` bounds a refresh to what the original grant had.
    """
    if not requested:
        return default
    scopes = scope_to_list(requested)
    unknown = [item for item in scopes if item not in SUPPORTED_SCOPES]
    if unknown:
        raise InvalidScopeError(f"unsupported scopes {unknown}")
    if granted is not None and not set(scopes) <= set(scope_to_list(granted)):
        raise InvalidScopeError("the scope exceeds what was granted")
    return " ".join(dict.fromkeys(scopes))


class OAuthServer:
    """Answers token requests of every tenant (realm)."""

    def __init__(
        self,
        db: Database,
        store_: PostgresEventStore,
        issuer: TokenIssuer,
        credentials: CredentialService,
        access: AccessService,
        status_cache: TenantStatusCache,
        *,
        refresh_ttl_s: int,
        code_ttl_s: int = 60,
        snapshot_every: int = 50,
    ) -> None:
        self.db = db
        self.issuer = issuer
        self.credentials = credentials
        self.access = access
        self.status_cache = status_cache
        self.refresh_ttl_s = refresh_ttl_s
        self.code_ttl_s = code_ttl_s
        self.users = Repository(store_, User, snapshot_every)

    async def token(
        self,
        slug: str,
        form: dict[str, str],
        authorization: str | None,
        client_ip: str | None = None,
    ) -> dict[str, Any]:
        """The token response for a form-encoded token request.

        Raises:
            authlib OAuth2Error: with the RFC 6749 error to answer.
        """
        grant_type = form.get("grant_type")
        client = client_credentials_of(form, authorization)
        if grant_type == "password":
            return await self._password(slug, form, client, client_ip)
        if grant_type == "client_credentials":
            return await self._client_credentials(slug, form, client)
        if grant_type == "refresh_token":
            return await self._refresh(slug, form, client)
        if grant_type == "authorization_code":
            return await self._authorization_code(slug, form, client)
        raise UnsupportedGrantTypeError(grant_type or "")

    async def public_client(self, slug: str, client: ClientCredentials) -> str:
        """The id of a known public client (the CLI or a registered app)."""
        if client.client_id == CLI_CLIENT_ID:
            return CLI_CLIENT_ID
        if client.client_id and await self.access.find_client(slug, client.client_id):
            return client.client_id
        raise InvalidClientError(
            "unknown client", status_code=401 if client.via_header else 400
        )

    async def service_account(
        self, slug: str, client: ClientCredentials
    ) -> ServiceAccountPrincipal:
        """The service account behind the client credentials, or invalid_client."""
        account = None
        if client.client_id and client.secret:
            account = await self.access.authenticate_service_account(
                slug, client.client_id, client.secret
            )
        if account is None:
            raise InvalidClientError(
                "client authentication failed",
                status_code=401 if client.via_header else 400,
            )
        return account

    async def _password(
        self,
        slug: str,
        form: dict[str, str],
        client: ClientCredentials,
        client_ip: str | None,
    ) -> dict[str, Any]:
        if await self.public_client(slug, client) != CLI_CLIENT_ID:
            raise UnauthorizedClientError("only eaf-cli may use the password grant")
        username, password = form.get("username"), form.get("password")
        if not username or not password:
            raise InvalidRequestError("username and password are required")
        scope = checked_scope(form.get("scope"))
        try:
            principal = await self.credentials.authenticate(
                slug, username, password, client_ip
            )
        except AccountLockedError as exc:
            raise InvalidGrantError(exc.detail) from None
        except AuthenticationError:
            raise InvalidGrantError("invalid username or password") from None
        user = await self._active_user(slug, principal.user_id)
        return await self._user_tokens(
            slug, user, CLI_CLIENT_ID, scope, str(uuid.uuid4()), None, int(time.time())
        )

    async def _client_credentials(
        self, slug: str, form: dict[str, str], client: ClientCredentials
    ) -> dict[str, Any]:
        account = await self.service_account(slug, client)
        if await self.status_cache.status(slug) != "active":
            raise UnauthorizedClientError("the tenant is suspended")
        scope = checked_scope(form.get("scope"), "profile")
        grant = Grant(
            tenant_id=slug,
            subject=account.subject,
            username=f"service-account-{account.name}",
            roles=account.roles,
            permissions=account.permissions,
            client_id=account.client_id,
            scope=scope,
        )
        issued = await self.issuer.issue_access(grant)
        # RFC 6749 4.4.3: no refresh token; the client can simply ask again.
        return _token_body(issued.token, issued.expires_in, scope)

    async def _refresh(
        self, slug: str, form: dict[str, str], client: ClientCredentials
    ) -> dict[str, Any]:
        client_id = await self.public_client(slug, client)
        token = form.get("refresh_token")
        if not token:
            raise InvalidRequestError("refresh_token is required")
        rotation = await store.rotate_refresh_token(
            self.db, slug, token, client_id, self.refresh_ttl_s
        )
        record = rotation.record
        if rotation.outcome is store.RefreshOutcome.REUSED and record is not None:
            await self._report_reuse(slug, record)
        if rotation.outcome is not store.RefreshOutcome.ROTATED or record is None:
            raise InvalidGrantError(f"refresh token {rotation.outcome.value}")
        scope = checked_scope(form.get("scope"), record.scope, record.scope)
        try:
            user = await self._active_user(slug, record.subject)
        except InvalidGrantError:
            async with self.db.transaction(slug) as conn:
                await store.revoke_family(conn, record.family_id)
            raise
        return await self._user_tokens(
            slug,
            user,
            client_id,
            scope,
            record.family_id,
            None,
            int(time.time()),
            refresh_token=rotation.new_token,
        )

    async def _report_reuse(self, slug: str, record: store.RefreshRecord) -> None:
        log.warning(
            "iam.refresh_token_reused",
            family_id=record.family_id,
            client_id=record.client_id,
        )
        user = await self.users.load(slug, record.subject)
        if user is not None:
            user.detect_refresh_reuse(record.family_id, record.client_id)
            await self.users.save(slug, user)

    async def _authorization_code(
        self, slug: str, form: dict[str, str], client: ClientCredentials
    ) -> dict[str, Any]:
        client_id = await self.public_client(slug, client)
        code, verifier = form.get("code"), form.get("code_verifier")
        if not code:
            raise InvalidRequestError("code is required")
        if not verifier:
            raise InvalidRequestError("code_verifier is required (PKCE)")
        record = await store.consume_code(self.db, slug, code)
        if record is None or record.client_id != client_id:
            raise InvalidGrantError("the code is invalid, used or expired")
        if form.get("redirect_uri") != record.redirect_uri:
            raise InvalidGrantError("redirect_uri does not match the authorization")
        if not compare_s256_code_challenge(verifier, record.code_challenge):
            raise InvalidGrantError("code_verifier does not match the challenge")
        user = await self._active_user(slug, record.subject)
        return await self._user_tokens(
            slug,
            user,
            client_id,
            record.scope,
            record.family_id,
            record.nonce,
            record.auth_time,
        )

    async def _active_user(self, slug: str, user_id: str) -> User:
        if await self.status_cache.status(slug) != "active":
            raise InvalidGrantError("the tenant is not active")
        user = await self.users.load(slug, user_id) if is_uuid(user_id) else None
        if user is None or not user.is_active:
            raise InvalidGrantError("the user is not active")
        return user

    async def user_grant(
        self, slug: str, user: User, client_id: str, scope: str
    ) -> Grant:
        """What a token for ``user`` through ``client_id`` carries."""
        return Grant(
            tenant_id=slug,
            subject=user.id,
            username=user.username,
            roles=user.roles,
            permissions=await self.access.permissions_for(slug, user.roles),
            client_id=client_id,
            scope=scope,
            email=user.email if "email" in scope.split() else None,
            name=user.display_name or None,
        )

    async def _user_tokens(
        self,
        slug: str,
        user: User,
        client_id: str,
        scope: str,
        family_id: str,
        nonce: str | None,
        auth_time: int,
        refresh_token: str | None = None,
    ) -> dict[str, Any]:
        grant = await self.user_grant(slug, user, client_id, scope)
        issued = await self.issuer.issue_access(grant)
        if refresh_token is None:
            record = store.RefreshRecord(family_id, user.id, client_id, scope)
            async with self.db.transaction(slug) as conn:
                refresh_token = await store.save_refresh_token(
                    conn, record, self.refresh_ttl_s
                )
        body = _token_body(issued.token, issued.expires_in, scope)
        body["refresh_token"] = refresh_token
        if "openid" in scope.split():
            body["id_token"] = await self.issuer.issue_id_token(
                grant, nonce=nonce, auth_time=auth_time
            )
        return body


def _token_body(token: str, expires_in: int, scope: str) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }
