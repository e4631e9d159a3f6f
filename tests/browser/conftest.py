"""A real Chromium driven by Playwright against a platform on a real port.

The browser is the system's Chromium; Playwright never downloads its own.
Without it these tests skip, unless ``EAF_REQUIRE_BROWSER=1`` (as in CI)
turns the missing browser into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.support import servers as test_servers
from tests.support.live_server import LiveSite, admin_headers_for, live_site

CHROMIUM = Path(os.environ.get("EAF_CHROMIUM", "/usr/bin/chromium"))
# Names the docs page is opened under; the browser resolves it to the live
# server and every other name to nothing, so no request can leave the host.
SITE_HOST = "eaf.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    f"--host-resolver-rules=MAP {SITE_HOST} 127.0.0.1, "
    "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
WAIT_MS = 30_000


@dataclass
class Account:
    tenant: str
    user_id: str
    username: str
    password: str


@dataclass
class BrowserSite:
    """The live platform, with a superadmin's bearer header for set-up calls."""

    live: LiveSite
    admin: dict[str, str]

    @property
    def url(self) -> str:
        return self.live.url

    async def new_account(self) -> Account:
        slug = f"b-{uuid.uuid4().hex[:8]}"
        username = f"u{uuid.uuid4().hex[:8]}"
        password = f"pw-{uuid.uuid4().hex[:12]}"
        async with httpx.AsyncClient(base_url=self.url, headers=self.admin) as api:
            tenant = await api.post(
                "/api/v1/tenants", json={"slug": slug, "name": slug}
            )
            assert tenant.status_code == 201, tenant.text
            user = await api.post(
                f"/api/v1/tenants/{slug}/users",
                json={
                    "username": username,
                    "email": f"{username}@{slug}.example",
                    "password": password,
                    "roles": ["member"],
                },
            )
            assert user.status_code == 201, user.text
        return Account(slug, user.json()["id"], username, password)


@pytest.fixture(scope="session", autouse=True)
def _require_chromium() -> None:
    """Skip (or fail) before any server starts when there is no browser."""
    if CHROMIUM.exists():
        return
    reason = f"no Chromium at {CHROMIUM}; install it with apt-get install chromium"
    if os.environ.get("EAF_REQUIRE_BROWSER") == "1":
        pytest.fail(f"EAF_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_site(
    servers: test_servers.Servers,
    template_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BrowserSite]:
    data_dir = tmp_path_factory.mktemp("browser-site")
    with live_site(servers, template_database, data_dir) as live:
        yield BrowserSite(live, admin_headers_for(live))


@pytest.fixture
async def context(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a profile of its own, closed after the test."""
    async with async_playwright() as playwright:
        browser_context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        browser_context.set_default_timeout(WAIT_MS)
        try:
            yield browser_context
        finally:
            await browser_context.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else await context.new_page()
