"""A small async client for the IAM's HTTP API and token endpoint.

Usage::

    async with IamClient("https://eaf.example.com") as iam:
        tokens = await iam.password_login("default", "admin", password)
        iam.token = tokens.access_token
        await iam.create_tenant("acme", "Acme Corp")
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx

from eaf.errors import ConfigurationError, EAFError, InfrastructureError

CLI_CLIENT_ID = "eaf-cli"

# RFC 6750 section 2.1: the only characters a bearer token may hold.
BEARER_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*\Z")


class ClientSettingError(ConfigurationError):
    """The client was given a base URL or token it cannot send."""


class IamApiError(EAFError):
    """The IAM answered with an error; ``status`` and ``detail`` say which.

    ``field_errors`` lists ``(location, message)`` for each field a 422
    problem named, ``body.`` left off the locations.
    """

    def __init__(self, status: int, detail: str, body: Any = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.body = body
        self.field_errors = _field_errors(body)


def _field_errors(body: Any) -> list[tuple[str, str]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        (str(error.get("location", "")).removeprefix("body."), str(error["message"]))
        for error in errors
        if isinstance(error, dict) and "message" in error
    ]


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, if it is an absolute http(s) URL."""
    hint = "give an http(s) URL such as http://127.0.0.1:8000"
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ClientSettingError(
            f"the API URL {url!r} contains a space or control character; {hint}"
        )
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        message = f"the API URL {url!r} is invalid ({exc}); {hint}"
        raise ClientSettingError(message) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ClientSettingError(f"the API URL {url!r} is not usable; {hint}")
    return url.rstrip("/")


def check_token(token: str) -> str:
    """``token`` if it can be sent as a bearer token; the message hides it."""
    if not BEARER_TOKEN.match(token):
        raise ClientSettingError(
            "the access token is malformed: a bearer token holds only ASCII "
            "letters, digits and -._~+/= (look for a stray space, newline or "
            "non-ASCII character)"
        )
    return token


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint's answer."""

    access_token: str
    expires_at: float
    scope: str = ""
    refresh_token: str | None = None
    id_token: str | None = None

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> TokenSet:
        """Read a token endpoint's JSON answer."""
        return cls(
            access_token=str(body["access_token"]),
            expires_at=time.time() + int(body.get("expires_in", 0)),
            scope=str(body.get("scope", "")),
            refresh_token=body.get("refresh_token"),
            id_token=body.get("id_token"),
        )

    @property
    def is_expired(self) -> bool:
        """Whether the access token expires within 30 seconds."""
        return time.time() >= self.expires_at - 30


class IamClient:
    """Calls the IAM of one EAF site; set ``token`` for the admin API."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout_s, transport=transport
        )

    @property
    def token(self) -> str | None:
        """The bearer token for the admin API; checked when set."""
        return self._bearer

    @token.setter
    def token(self, value: str | None) -> None:
        self._bearer = check_token(value) if value else value

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connections."""
        await self._http.aclose()

    # --- tokens -------------------------------------------------------------

    def token_url(self, tenant: str) -> str:
        """The token endpoint path of ``tenant``."""
        return f"/realms/{tenant}/protocol/openid-connect/token"

    async def password_login(
        self, tenant: str, username: str, password: str, scope: str = "openid profile"
    ) -> TokenSet:
        """Log in as a user through the ``eaf-cli`` client."""
        form = {
            "grant_type": "password",
            "client_id": CLI_CLIENT_ID,
            "username": username,
            "password": password,
            "scope": scope,
        }
        return await self._token(tenant, form)

    async def client_credentials(
        self, tenant: str, client_id: str, client_secret: str
    ) -> TokenSet:
        """Obtain a token for a service account."""
        form = {"grant_type": "client_credentials"}
        return await self._token(tenant, form, auth=(client_id, client_secret))

    async def refresh(self, tenant: str, refresh_token: str) -> TokenSet:
        """Exchange a refresh token (it is replaced; keep the new one)."""
        form = {
            "grant_type": "refresh_token",
            "client_id": CLI_CLIENT_ID,
            "refresh_token": refresh_token,
        }
        return await self._token(tenant, form)

    async def introspect(
        self,
        tenant: str,
        token: str,
        *,
        client_id: str,
        client_secret: str,
        token_type_hint: str | None = None,
    ) -> dict[str, Any]:
        """Ask the IAM whether ``token`` is active now (RFC 7662).

        Only service accounts of ``tenant`` may ask. The answer is the IAM's
        JSON: ``{"active": false}`` or the token's claims with ``"active": true``.

        Raises:
            IamApiError: the IAM refused the question (bad client credentials,
                unknown tenant).
            InfrastructureError: the IAM could not be reached.
        """
        form = {"token": token}
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        path = f"/realms/{tenant}/protocol/openid-connect/token/introspect"
        body = await self._post_form(path, form, (client_id, client_secret))
        if not isinstance(body.get("active"), bool):
            raise IamApiError(200, "introspection answer lacks 'active'", body)
        return body

    async def _token(
        self,
        tenant: str,
        form: dict[str, str],
        auth: tuple[str, str] | None = None,
    ) -> TokenSet:
        body = await self._post_form(self.token_url(tenant), form, auth)
        return TokenSet.from_response(body)

    async def _post_form(
        self, path: str, form: dict[str, str], auth: tuple[str, str] | None
    ) -> dict[str, Any]:
        """POST to a protocol endpoint; its JSON object, or ``IamApiError``."""
        try:
            response = await self._http.post(
                path, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.HTTPError as exc:
            raise InfrastructureError(f"cannot reach {self.base_url}: {exc}") from exc
        body = _json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict):
            detail = body.get("error_description") if isinstance(body, dict) else None
            raise IamApiError(response.status_code, str(detail or response.text), body)
        return body

    # --- API ----------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Call the API; the decoded JSON answer, or None for an empty one."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = await self._http.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise InfrastructureError(f"cannot reach {self.base_url}: {exc}") from exc
        body = _json_or_none(response)
        if response.is_error:
            detail = body.get("detail") if isinstance(body, dict) else None
            raise IamApiError(response.status_code, str(detail or response.text), body)
        return body

    async def list_tenants(self) -> list[dict[str, Any]]:
        """Every tenant (superadmin)."""
        return list(await self.request("GET", "/api/v1/tenants"))

    async def get_tenant(self, slug: str) -> dict[str, Any]:
        """One tenant."""
        return dict(await self.request("GET", f"/api/v1/tenants/{slug}"))

    async def create_tenant(self, slug: str, name: str) -> dict[str, Any]:
        """Create a tenant (superadmin)."""
        body = {"slug": slug, "name": name}
        return dict(await self.request("POST", "/api/v1/tenants", json=body))

    async def rename_tenant(self, slug: str, name: str) -> dict[str, Any]:
        """Change a tenant's display name."""
        path = f"/api/v1/tenants/{slug}"
        return dict(await self.request("PATCH", path, json={"name": name}))

    async def suspend_tenant(self, slug: str, reason: str = "") -> dict[str, Any]:
        """Suspend a tenant (superadmin)."""
        path = f"/api/v1/tenants/{slug}/suspend"
        return dict(await self.request("POST", path, json={"reason": reason}))

    async def reactivate_tenant(self, slug: str) -> dict[str, Any]:
        """Reactivate a suspended tenant (superadmin)."""
        path = f"/api/v1/tenants/{slug}/reactivate"
        return dict(await self.request("POST", path))

    async def rotate_keys(self, slug: str) -> dict[str, Any]:
        """Rotate a tenant's signing key."""
        path = f"/api/v1/tenants/{slug}/keys/rotate"
        return dict(await self.request("POST", path))

    async def purge_expired(self, slug: str) -> dict[str, int]:
        """Delete a tenant's expired protocol state; rows deleted per kind."""
        path = f"/api/v1/tenants/{slug}/purge-expired"
        return dict(await self.request("POST", path))

    async def audit(
        self,
        slug: str,
        *,
        actor: str | None = None,
        event_types: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of the audit trail; pass ``next_cursor`` back for the next."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("actor", actor), ("cursor", cursor)):
            if value:
                params[key] = value
        if event_types:
            params["type"] = event_types
        if since:
            params["since"] = since.isoformat()
        if until:
            params["until"] = until.isoformat()
        path = f"/api/v1/tenants/{slug}/audit"
        return dict(await self.request("GET", path, params=params))

    async def list_users(self, slug: str) -> list[dict[str, Any]]:
        """The users of a tenant, from the read model."""
        return list(await self.request("GET", f"/api/v1/tenants/{slug}/users"))

    async def get_user(self, slug: str, user_id: str) -> dict[str, Any]:
        """One user."""
        path = f"/api/v1/tenants/{slug}/users/{user_id}"
        return dict(await self.request("GET", path))

    async def create_user(
        self,
        slug: str,
        username: str,
        email: str,
        password: str,
        roles: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create a user; roles default to ``member``."""
        body = {
            "username": username,
            "email": email,
            "password": password,
            "roles": roles or ["member"],
        }
        path = f"/api/v1/tenants/{slug}/users"
        return dict(await self.request("POST", path, json=body))

    async def update_user(
        self, slug: str, user_id: str, **profile: str | None
    ) -> dict[str, Any]:
        """Change username, email or display name (keywords)."""
        body = {key: value for key, value in profile.items() if value is not None}
        path = f"/api/v1/tenants/{slug}/users/{user_id}"
        return dict(await self.request("PATCH", path, json=body))

    async def set_user_status(
        self, slug: str, user_id: str, *, is_active: bool
    ) -> dict[str, Any]:
        """Activate or deactivate a user."""
        action = "activate" if is_active else "deactivate"
        path = f"/api/v1/tenants/{slug}/users/{user_id}/{action}"
        return dict(await self.request("POST", path))

    async def assign_role(self, slug: str, user_id: str, role: str) -> dict[str, Any]:
        """Give a user a role."""
        path = f"/api/v1/tenants/{slug}/users/{user_id}/roles/{role}"
        return dict(await self.request("PUT", path))

    async def revoke_role(self, slug: str, user_id: str, role: str) -> dict[str, Any]:
        """Take a role from a user."""
        path = f"/api/v1/tenants/{slug}/users/{user_id}/roles/{role}"
        return dict(await self.request("DELETE", path))

    async def set_password(self, slug: str, user_id: str, password: str) -> None:
        """Set a user's password as an administrator."""
        path = f"/api/v1/tenants/{slug}/users/{user_id}/password"
        await self.request("POST", path, json={"new_password": password})

    async def change_my_password(self, old_password: str, new_password: str) -> None:
        """Change the caller's own password."""
        body = {"old_password": old_password, "new_password": new_password}
        await self.request("PUT", "/api/v1/me/password", json=body)

    async def me(self) -> dict[str, Any]:
        """The caller's own profile."""
        return dict(await self.request("GET", "/api/v1/me"))

    async def list_roles(self, slug: str) -> list[dict[str, Any]]:
        """Built-in and custom roles of a tenant."""
        return list(await self.request("GET", f"/api/v1/tenants/{slug}/roles"))

    async def define_role(
        self, slug: str, name: str, permissions: list[str], description: str = ""
    ) -> dict[str, Any]:
        """Define a custom role."""
        body = {"name": name, "permissions": permissions, "description": description}
        path = f"/api/v1/tenants/{slug}/roles"
        return dict(await self.request("POST", path, json=body))

    async def change_role(
        self, slug: str, name: str, permissions: list[str]
    ) -> dict[str, Any]:
        """Replace a custom role's permissions."""
        path = f"/api/v1/tenants/{slug}/roles/{name}"
        return dict(await self.request("PUT", path, json={"permissions": permissions}))

    async def delete_role(self, slug: str, name: str) -> None:
        """Delete a custom role."""
        await self.request("DELETE", f"/api/v1/tenants/{slug}/roles/{name}")

    async def create_service_account(
        self, slug: str, name: str, roles: list[str]
    ) -> dict[str, Any]:
        """Create an account; the answer holds its only ``client_secret``."""
        path = f"/api/v1/tenants/{slug}/service-accounts"
        body = {"name": name, "roles": roles}
        return dict(await self.request("POST", path, json=body))

    async def list_service_accounts(self, slug: str) -> list[dict[str, Any]]:
        """Service accounts of a tenant, without secrets."""
        path = f"/api/v1/tenants/{slug}/service-accounts"
        return list(await self.request("GET", path))

    async def rotate_service_account_secret(
        self, slug: str, account_id: str
    ) -> dict[str, Any]:
        """Replace an account's secret; the answer holds the new one."""
        path = f"/api/v1/tenants/{slug}/service-accounts/{account_id}/secret"
        return dict(await self.request("POST", path))

    async def delete_service_account(self, slug: str, account_id: str) -> None:
        """Delete a service account."""
        path = f"/api/v1/tenants/{slug}/service-accounts/{account_id}"
        await self.request("DELETE", path)


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
