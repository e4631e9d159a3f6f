"""The API reference works in a browser without reaching any other host."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, Request

from tests.browser.conftest import SITE_HOST, WAIT_MS, BrowserSite


async def test_docs_render_with_only_local_requests(
    page: Page, browser_site: BrowserSite
) -> None:
    """Every script, style, icon and the schema come from the platform itself."""
    port = urlsplit(browser_site.url).port
    origin = f"{SITE_HOST}:{port}"
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    await page.goto(f"http://{origin}/docs", wait_until="networkidle")
    tenants = page.locator(".opblock-tag", has_text="tenants")
    await tenants.first.wait_for(state="visible", timeout=WAIT_MS)
    await page.wait_for_load_state("networkidle")

    assert await page.locator(".opblock").count() > 10
    assert await page.locator(".errors-wrapper").count() == 0
    foreign = [url for url in requested if urlsplit(url).netloc != origin]
    assert foreign == []
    assert f"http://{origin}/openapi.json" in requested


async def test_docs_pages_stay_out_of_the_schema(browser_site: BrowserSite) -> None:
    async with httpx.AsyncClient(base_url=browser_site.url) as api:
        page = await api.get("/docs")
        redirect = await api.get("/docs/oauth2-redirect")
        schema = (await api.get("/openapi.json")).json()
        redoc = await api.get("/redoc")

    assert page.status_code == 200
    assert '"validatorUrl": null' in page.text
    assert "https://" not in page.text
    assert redirect.status_code == 200
    assert "swaggerUIRedirectOauth2" in redirect.text
    assert not [path for path in schema["paths"] if path.startswith("/docs")]
    assert redoc.status_code == 404
