"""The page behind a password reset link, filled in by a browser."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from playwright.async_api import Page

from tests.browser.conftest import Account, BrowserSite

NEW_PASSWORD = "chosen-in-the-browser-1"
OUTCOME = re.compile(r"^Password (not )?changed$")


async def reset_link(site: BrowserSite, account: Account) -> str:
    """Ask for a reset and return the link from the mail the user gets."""
    async with httpx.AsyncClient(base_url=site.url) as api:
        asked = await api.post(
            f"/api/v1/tenants/{account.tenant}/password-reset",
            json={"username": account.username},
        )
    assert asked.status_code == 202, asked.text
    mail_log = site.live.settings.data_dir / "logs" / "mail.log"
    for _ in range(300):
        lines = mail_log.read_text().splitlines() if mail_log.exists() else []
        mails = [json.loads(line) for line in lines]
        mine = [mail for mail in mails if mail["tenant"] == account.tenant]
        if mine:
            found = re.search(r"Open (\S+) before", mine[-1]["body"])
            assert found, mine[-1]["body"]
            return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no reset mail for {account.tenant} in {mail_log}")


async def password_grant(
    site: BrowserSite, account: Account, password: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=site.url) as api:
        return await api.post(
            f"/realms/{account.tenant}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "eaf-cli",
                "username": account.username,
                "password": password,
            },
        )


async def choose_password(page: Page, link: str, password: str) -> str:
    await page.goto(link)
    await page.get_by_label("New password").fill(password)
    await page.get_by_role("button", name="Set password").click()
    # The form page's own heading mentions a password too; wait for the answer.
    heading = page.locator("h1", has_text=OUTCOME)
    await heading.wait_for(state="visible")
    return await heading.inner_text()


async def test_reset_page_sets_the_new_password(
    page: Page, browser_site: BrowserSite
) -> None:
    account = await browser_site.new_account()
    link = await reset_link(browser_site, account)

    outcome = await choose_password(page, link, NEW_PASSWORD)

    assert link.startswith(f"{browser_site.url}/realms/{account.tenant}/")
    assert outcome == "Password changed"
    new = await password_grant(browser_site, account, NEW_PASSWORD)
    old = await password_grant(browser_site, account, account.password)
    assert new.status_code == 200, new.text
    assert old.status_code != 200


async def test_reset_link_works_only_once(
    page: Page, browser_site: BrowserSite
) -> None:
    account = await browser_site.new_account()
    link = await reset_link(browser_site, account)
    await choose_password(page, link, NEW_PASSWORD)

    outcome = await choose_password(page, link, "second-choice-pw-2")

    assert outcome == "Password not changed"
    kept = await password_grant(browser_site, account, NEW_PASSWORD)
    assert kept.status_code == 200, kept.text
