"""Each tenant's OpenID Connect endpoints: discovery, keys, token and friends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from eaf.application.commands import run_command
from eaf.context import ExecutionContext
from eaf.errors import InvalidDataError
from eaf.http.problems import problem_responses
from eaf.iam.domain.rules import SLUG
from eaf.iam.http._common import iam_of, platform_of, services_of
from eaf.iam.oauth.grants import GRANT_TYPES, SUPPORTED_SCOPES
from eaf.iam.tokens import InvalidTokenError

router = APIRouter(tags=["openid-connect"], responses=problem_responses(404, 503))

REALM = "/realms/{slug}"
PROTOCOL = f"{REALM}/protocol/openid-connect"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthErrorBody(BaseModel):
    """RFC 6749 section 5.2 error answer."""

    error: str
    error_description: str | None = None


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    id_token: str | None = None


OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OAuthErrorBody, "description": "RFC 6749 error"}
    for status in (400, 401, 404)
}


def form_body(**fields: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI request body of a form-encoded protocol endpoint."""
    schema = {"type": "object", "properties": fields}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


_TEXT: dict[str, Any] = {"type": "string", "maxLength": 4096}
TOKEN_FORM = form_body(
    grant_type={"type": "string", "enum": list(GRANT_TYPES)},
    client_id=_TEXT,
    client_secret=_TEXT,
    username=_TEXT,
    password=_TEXT,
    scope=_TEXT,
    refresh_token=_TEXT,
    code=_TEXT,
    code_verifier=_TEXT,
    redirect_uri=_TEXT,
)
TOKEN_HINT_FORM = form_body(
    token=_TEXT,
    token_type_hint={"type": "string", "enum": ["access_token", "refresh_token"]},
    client_id=_TEXT,
    client_secret=_TEXT,
)
TOKEN_ENDPOINT_ACTOR = "system:token-endpoint"  # noqa: S105 - an actor name

_bearer = HTTPBearer(auto_error=False, description="An access token of the realm")


def oauth_error(code: str, description: str, status_code: int = 400) -> JSONResponse:
    """RFC 6749 section 5.2 error body."""
    return JSONResponse(
        {"error": code, "error_description": description},
        status_code=status_code,
        headers=NO_STORE,
    )


def _from_authlib(error: OAuth2Error) -> JSONResponse:
    response = oauth_error(
        str(error.error), str(error.get_error_description() or ""), error.status_code
    )
    for name, value in error.get_headers():
        if name.lower() == "www-authenticate":
            response.headers[name] = value
    return response


async def _form_of(request: Request) -> dict[str, str] | JSONResponse:
    """The form fields, or an error: wrong media type or repeated parameters."""
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" not in content_type:
        return oauth_error("invalid_request", "send the form as x-www-form-urlencoded")
    form = await request.form()
    items = form.multi_items()
    fields = {key: str(value) for key, value in items}
    if len(fields) != len(items):
        return oauth_error("invalid_request", "parameters must not be repeated")
    if any("\x00" in text for item in fields.items() for text in item):
        return oauth_error("invalid_request", "parameters must not contain NUL")
    return fields


async def _protocol_call(
    request: Request,
    slug: str,
    handler: Callable[[dict[str, str]], Awaitable[Any]],
) -> Any:
    """Run a form-based protocol endpoint with RFC 6749 error answers."""
    # A malformed slug names no realm; the cached status answers "does this
    # realm exist" without a query.
    if (
        not SLUG.fullmatch(slug)
        or await platform_of(request).verifier.tenant_status.status(slug) is None
    ):
        return oauth_error("invalid_request", f"unknown realm {slug!r}", 404)
    form = await _form_of(request)
    if isinstance(form, JSONResponse):
        return form
    context = ExecutionContext(
        tenant_id=slug, actor=TOKEN_ENDPOINT_ACTOR, actor_tenant=slug
    )
    try:
        return await run_command(context, lambda: handler(form), retries=0)
    except OAuth2Error as error:
        return _from_authlib(error)
    except InvalidDataError as error:  # input the database cannot hold
        return oauth_error("invalid_request", error.detail)


@router.get(
    f"{REALM}/.well-known/openid-configuration",
    summary="OpenID Provider metadata of a tenant",
)
async def discovery(slug: str, request: Request) -> dict[str, Any]:
    platform = platform_of(request)
    await platform.iam.require_tenant(slug)
    issuer = platform.issuer_for(slug)
    protocol = f"{issuer}/protocol/openid-connect"
    client_auth = ["client_secret_basic", "client_secret_post"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{protocol}/auth",
        "token_endpoint": f"{protocol}/token",
        "jwks_uri": f"{protocol}/certs",
        "userinfo_endpoint": f"{protocol}/userinfo",
        "revocation_endpoint": f"{protocol}/revoke",
        "introspection_endpoint": f"{protocol}/token/introspect",
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none", *client_auth],
        "revocation_endpoint_auth_methods_supported": ["none", *client_auth],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "tenant",
            "roles",
            "permissions",
            "preferred_username",
            "email",
            "name",
        ],
    }


@router.get(f"{PROTOCOL}/certs", summary="Public signing keys of a tenant (JWKS)")
async def jwks(slug: str, request: Request) -> JSONResponse:
    platform = platform_of(request)
    await platform.iam.require_tenant(slug)
    keys = await platform.keys.public_keys(slug)
    # Short enough that verifiers see a new key soon after a rotation.
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "max-age=60"})


@router.post(
    f"{PROTOCOL}/token",
    summary="OAuth 2.0 token endpoint (form-encoded)",
    response_model=TokenAnswer,
    responses=OAUTH_ERRORS,
    openapi_extra=TOKEN_FORM,
)
async def token(slug: str, request: Request) -> Response:
    oauth = services_of(request).oauth
    authorization = request.headers.get("authorization")
    client_ip = request.client.host if request.client else None

    async def answer(form: dict[str, str]) -> JSONResponse:
        body = await oauth.token(slug, form, authorization, client_ip)
        return JSONResponse(body, headers=NO_STORE)

    response: Response = await _protocol_call(request, slug, answer)
    return response


@router.post(
    f"{PROTOCOL}/revoke",
    summary="Token revocation (RFC 7009)",
    responses={200: {"description": "Revoked, or unknown"}, **OAUTH_ERRORS},
    openapi_extra=TOKEN_HINT_FORM,
)
async def revoke(slug: str, request: Request) -> Response:
    inspector = services_of(request).inspector
    authorization = request.headers.get("authorization")

    async def answer(form: dict[str, str]) -> Response:
        await inspector.revoke(slug, form, authorization)
        return Response(status_code=200, headers=NO_STORE)

    response: Response = await _protocol_call(request, slug, answer)
    return response


@router.post(
    f"{PROTOCOL}/token/introspect",
    summary="Token introspection (RFC 7662) for the tenant's service accounts",
    responses={
        200: {"description": "{active: false} or the token's claims"},
        **OAUTH_ERRORS,
    },
    openapi_extra=TOKEN_HINT_FORM,
)
async def introspect(slug: str, request: Request) -> Response:
    inspector = services_of(request).inspector
    authorization = request.headers.get("authorization")

    async def answer(form: dict[str, str]) -> JSONResponse:
        body = await inspector.introspect(slug, form, authorization)
        return JSONResponse(body, headers=NO_STORE)

    response: Response = await _protocol_call(request, slug, answer)
    return response


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _userinfo(
    slug: str, request: Request, credentials: HTTPAuthorizationCredentials | None
) -> dict[str, Any]:
    await iam_of(request).require_tenant(slug)
    if credentials is None:
        raise InvalidTokenError("send an access token as 'Authorization: Bearer ...'")
    inspector = services_of(request).inspector
    return await inspector.userinfo(slug, credentials.credentials)


@router.get(
    f"{PROTOCOL}/userinfo",
    summary="OpenID Connect userinfo of the bearer token's subject",
    responses=problem_responses(401),
)
async def userinfo(slug: str, request: Request, credentials: Bearer) -> dict[str, Any]:
    return await _userinfo(slug, request, credentials)


@router.post(
    f"{PROTOCOL}/userinfo",
    summary="OpenID Connect userinfo, asked with POST",
    responses=problem_responses(401),
)
async def userinfo_post(
    slug: str, request: Request, credentials: Bearer
) -> dict[str, Any]:
    return await _userinfo(slug, request, credentials)
