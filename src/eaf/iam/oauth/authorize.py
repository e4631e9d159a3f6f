"""The authorization endpoint's rules: registered redirects and PKCE (S256).

Errors found before the redirect URI is known to be registered are shown to
the user; redirecting them would make the endpoint an open redirector. Later
errors go back to the client on its redirect URI (RFC 6749 section 4.1.2.1).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedResponseTypeError,
)

from eaf.db.pool import Database
from eaf.iam.access import AccessService
from eaf.iam.oauth import store
from eaf.iam.oauth.grants import checked_scope

# RFC 7636 section 4.2: BASE64URL(SHA256(verifier)) is 43 characters.
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}\Z")

PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


class UnsafeRedirectError(Exception):
    """The client or its redirect URI is unknown: show, never redirect."""


class RedirectableError(Exception):
    """An error to send back to the client on its registered redirect URI."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked request of a registered browser client."""

    client_id: str
    client_name: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str


async def check_request(
    access: AccessService, slug: str, params: dict[str, str], issuer: str
) -> AuthorizationRequest:
    """Validate an authorization request.

    Raises:
        UnsafeRedirectError: unknown client or unregistered redirect URI.
        RedirectableError: any other problem, as a redirect to the client.
    """
    client_id = params.get("client_id", "")
    client = await access.find_client(slug, client_id) if client_id else None
    if client is None:
        raise UnsafeRedirectError("unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client["redirect_uris"]:
        raise UnsafeRedirectError("redirect_uri is not registered for this client")
    state = params.get("state") or None
    try:
        if params.get("response_type") != "code":
            raise UnsupportedResponseTypeError(params.get("response_type", ""))
        challenge = params.get("code_challenge", "")
        if params.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        if not _S256_CHALLENGE.match(challenge):
            raise InvalidRequestError("code_challenge must be an S256 challenge")
        scope = checked_scope(params.get("scope"))
    except (
        InvalidRequestError,
        InvalidScopeError,
        UnsupportedResponseTypeError,
    ) as exc:
        description = exc.get_error_description()
        location = error_location(redirect_uri, exc.error, description, state)
        raise RedirectableError(add_params_to_uri(location, [("iss", issuer)])) from exc
    return AuthorizationRequest(
        client_id=client_id,
        client_name=str(client["name"]),
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        nonce=params.get("nonce") or None,
        code_challenge=challenge,
    )


def error_location(
    redirect_uri: str, error: str, description: str | None, state: str | None
) -> str:
    """The redirect URI with an RFC 6749 error in its query."""
    params = [("error", error)]
    if description:
        params.append(("error_description", description))
    if state:
        params.append(("state", state))
    return str(add_params_to_uri(redirect_uri, params))


async def issue_code(
    db: Database,
    slug: str,
    request: AuthorizationRequest,
    user_id: str,
    issuer: str,
    ttl_s: int,
) -> str:
    """Store a code for ``user_id``; return where to send the browser."""
    record = store.CodeRecord(
        client_id=request.client_id,
        redirect_uri=request.redirect_uri,
        subject=user_id,
        scope=request.scope,
        nonce=request.nonce,
        code_challenge=request.code_challenge,
        auth_time=int(time.time()),
    )
    code = await store.save_code(db, slug, record, ttl_s)
    # RFC 9207: "iss" tells the client which issuer answered (mix-up defence).
    params = [("code", code), ("iss", issuer)]
    if request.state:
        params.append(("state", request.state))
    return str(add_params_to_uri(request.redirect_uri, params))
