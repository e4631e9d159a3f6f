"""Minimal browser pages: the login form of the authorization endpoint, and
the page behind a password reset link. Plain HTML, no scripts."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from eaf.application.commands import run_command
from eaf.context import ExecutionContext
from eaf.errors import AuthenticationError, DomainError, NotFoundError
from eaf.iam.http._common import iam_of, platform_of, services_of
from eaf.iam.oauth.authorize import (
    PARAMETERS,
    AuthorizationRequest,
    RedirectableError,
    UnsafeRedirectError,
    check_request,
    issue_code,
)

router = APIRouter(tags=["openid-connect"])

AUTHORIZE = "/realms/{slug}/protocol/openid-connect/auth"
RESET = "/realms/{slug}/reset-password"
HTML_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}
_STYLE = (
    "body{font-family:sans-serif;max-width:24rem;margin:4rem auto}"
    "label,input,button{display:block;width:100%;margin:.4rem 0}"
    ".error{color:#a00}"
)


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=HTML_HEADERS)


def _hidden(fields: dict[str, str]) -> str:
    return "".join(
        f"<input type='hidden' name='{escape(name)}' value='{escape(value)}'>"
        for name, value in fields.items()
    )


def _login_form(
    slug: str, auth: AuthorizationRequest, params: dict[str, str], error: str = ""
) -> HTMLResponse:
    notice = f"<p class='error'>{escape(error)}</p>" if error else ""
    body = (
        f"<p>{escape(auth.client_name)} asks you to sign in to {escape(slug)}.</p>"
        f"{notice}<form method='post'>{_hidden(params)}"
        "<label>Username <input name='username' autocomplete='username' required>"
        "</label><label>Password <input name='password' type='password' "
        "autocomplete='current-password' required></label>"
        "<button type='submit'>Sign in</button></form>"
    )
    return _page("Sign in", body, 401 if error else 200)


async def _checked(
    request: Request, slug: str, params: dict[str, str]
) -> AuthorizationRequest | Response:
    try:
        await iam_of(request).require_tenant(slug)
    except NotFoundError:
        return _page("Unknown realm", f"<p>No realm {escape(slug)!s}.</p>", 404)
    issuer = platform_of(request).issuer_for(slug)
    access = services_of(request).access
    try:
        return await check_request(access, slug, params, issuer)
    except UnsafeRedirectError as exc:
        return _page("Cannot sign in", f"<p>{escape(str(exc))}.</p>", 400)
    except RedirectableError as exc:
        return RedirectResponse(exc.location, status_code=302)


@router.get(
    AUTHORIZE,
    response_class=HTMLResponse,
    include_in_schema=False,
    summary="Authorization endpoint: the login form (code flow with PKCE)",
)
async def authorize_form(slug: str, request: Request) -> Response:
    params = {
        key: value for key, value in request.query_params.items() if key in PARAMETERS
    }
    checked = await _checked(request, slug, params)
    if isinstance(checked, Response):
        return checked
    return _login_form(slug, checked, params)


@router.post(
    AUTHORIZE,
    response_class=HTMLResponse,
    include_in_schema=False,
    summary="Authorization endpoint: sign in and return to the client",
)
async def authorize_login(slug: str, request: Request) -> Response:
    form = await request.form()
    params = {key: str(form[key]) for key in PARAMETERS if key in form}
    checked = await _checked(request, slug, params)
    if isinstance(checked, Response):
        return checked
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    services = services_of(request)
    context = ExecutionContext(tenant_id=slug, actor="system:login", actor_tenant=slug)
    client_ip = request.client.host if request.client else None
    try:
        principal = await run_command(
            context,
            lambda: services.credentials.authenticate(
                slug, username, password, client_ip
            ),
            retries=0,
        )
    except AuthenticationError as exc:
        return _login_form(slug, checked, params, exc.detail)
    platform = platform_of(request)
    location = await issue_code(
        platform.db,
        slug,
        checked,
        principal.user_id,
        platform.issuer_for(slug),
        services.oauth.code_ttl_s,
    )
    return RedirectResponse(location, status_code=303)


@router.get(
    RESET,
    response_class=HTMLResponse,
    include_in_schema=False,
    summary="The page behind a password reset link",
)
async def reset_form(slug: str, request: Request, token: str = "") -> Response:
    await iam_of(request).require_tenant(slug)
    body = (
        f"<form method='post'>{_hidden({'token': token[:200]})}"
        "<label>New password <input name='new_password' type='password' "
        "autocomplete='new-password' required></label>"
        "<button type='submit'>Set password</button></form>"
    )
    return _page("Choose a new password", body)


@router.post(
    RESET,
    response_class=HTMLResponse,
    include_in_schema=False,
    summary="Set the new password",
)
async def reset_submit(
    slug: str,
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    new_password: Annotated[str, Form(max_length=1024)],
) -> Response:
    await iam_of(request).require_tenant(slug)
    credentials = services_of(request).credentials
    context = ExecutionContext(
        tenant_id=slug, actor="system:password-reset", actor_tenant=slug
    )
    try:
        await run_command(
            context,
            lambda: credentials.confirm_reset(slug, token, new_password),
            retries=0,
        )
    except DomainError as exc:
        return _page("Password not changed", f"<p>{escape(exc.detail)}</p>", 400)
    return _page("Password changed", "<p>You can sign in with it now.</p>")
