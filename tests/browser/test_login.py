"""The sign-in page of the authorization code flow with PKCE, in a browser."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
from playwright.async_api import Page, Route

from tests.browser.conftest import Account, BrowserSite

# Nothing listens there: the browser's request is answered by the test.
REDIRECT_URI = "http://127.0.0.1:9/callback"


class Callback:
    """Stands in for the client application behind ``REDIRECT_URI``."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def answer(self, route: Route) -> None:
        self.urls.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<p>back</p>")

    def params(self) -> dict[str, str]:
        assert len(self.urls) == 1, self.urls
        query = parse_qs(urlsplit(self.urls[0]).query)
        return {name: values[0] for name, values in query.items()}


async def register_client(site: BrowserSite, slug: str) -> str:
    async with httpx.AsyncClient(base_url=site.url, headers=site.admin) as api:
        answer = await api.post(
            f"/api/v1/tenants/{slug}/clients",
            json={"name": "Portal", "redirect_uris": [REDIRECT_URI]},
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["client_id"])


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return verifier, challenge


async def open_login(
    page: Page, site: BrowserSite, account: Account, client_id: str, challenge: str
) -> Callback:
    callback = Callback()
    await page.route(f"{REDIRECT_URI}*", callback.answer)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile",
            "state": "state-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    realm = f"{site.url}/realms/{account.tenant}"
    await page.goto(f"{realm}/protocol/openid-connect/auth?{query}")
    return callback


async def sign_in(page: Page, username: str, password: str) -> None:
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def verified_claims(site: BrowserSite, slug: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=site.url) as api:
        metadata = (
            await api.get(f"/realms/{slug}/.well-known/openid-configuration")
        ).json()
        keys = (await api.get(metadata["jwks_uri"])).json()
    key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
    return dict(
        jwt.decode(
            token,
            key.key,
            algorithms=metadata["id_token_signing_alg_values_supported"],
            audience="eaf",
            issuer=metadata["issuer"],
        )
    )


async def test_sign_in_returns_code_that_buys_a_token(
    page: Page, browser_site: BrowserSite
) -> None:
    account = await browser_site.new_account()
    client_id = await register_client(browser_site, account.tenant)
    verifier, challenge = pkce_pair()
    callback = await open_login(page, browser_site, account, client_id, challenge)

    await sign_in(page, account.username, account.password)
    await page.wait_for_url(f"{REDIRECT_URI}*")
    params = callback.params()
    async with httpx.AsyncClient(base_url=browser_site.url) as api:
        answer = await api.post(
            f"/realms/{account.tenant}/protocol/openid-connect/token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": params["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )

    assert params["state"] == "state-1"
    assert params["iss"] == f"{browser_site.url}/realms/{account.tenant}"
    assert answer.status_code == 200, answer.text
    claims = await verified_claims(
        browser_site, account.tenant, answer.json()["access_token"]
    )
    assert claims["sub"] == account.user_id
    assert claims["azp"] == client_id


async def test_wrong_password_shows_error_and_issues_no_code(
    page: Page, browser_site: BrowserSite
) -> None:
    account = await browser_site.new_account()
    client_id = await register_client(browser_site, account.tenant)
    callback = await open_login(page, browser_site, account, client_id, pkce_pair()[1])

    await sign_in(page, account.username, "not-the-password")
    error = page.locator(".error")
    await error.wait_for(state="visible")

    assert await error.inner_text() != ""
    assert callback.urls == []
    assert page.url.startswith(browser_site.url)
    assert await page.get_by_label("Password").input_value() == ""
