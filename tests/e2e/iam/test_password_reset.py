"""Self-service resets: at most one mail per user and interval, silently."""

from __future__ import annotations

import asyncio
import json

import httpx
import psycopg

from tests.e2e.iam.conftest import Site, User


async def ask_reset(site: Site, slug: str, name: str) -> httpx.Response:
    return await site.client.post(
        f"/api/v1/tenants/{slug}/password-reset", json={"username": name}
    )


def mails_to(site: Site, user: User) -> list[dict[str, str]]:
    log = site.settings.data_dir / "logs" / "mail.log"
    lines = log.read_text().splitlines() if log.exists() else []
    mails = [json.loads(line) for line in lines]
    return [
        mail
        for mail in mails
        if (mail["tenant"], mail["to"]) == (user.tenant, user.email)
    ]


async def age_reset_tokens(site: Site, user: User, seconds: int) -> None:
    async with await psycopg.AsyncConnection.connect(site.database.owner_dsn) as conn:
        await conn.execute(
            "UPDATE iam_reset_tokens "
            "SET created_at = created_at - make_interval(secs => %s) "
            "WHERE tenant_id = %s AND user_id = %s",
            (seconds, user.tenant, user.id),
        )


async def test_second_request_within_interval_sends_nothing(site: Site) -> None:
    slug = await site.new_tenant("reset")
    user = await site.new_user(slug)

    first = await ask_reset(site, slug, user.username)
    second = await ask_reset(site, slug, user.email)

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.content == second.content == b""
    assert len(mails_to(site, user)) == 1


async def test_burst_of_requests_sends_one_mail(site: Site) -> None:
    slug = await site.new_tenant("reset")
    user = await site.new_user(slug)

    answers = await asyncio.gather(
        *(ask_reset(site, slug, user.username) for _ in range(5))
    )

    assert {answer.status_code for answer in answers} == {202}
    assert len(mails_to(site, user)) == 1


async def test_request_after_interval_sends_again(site: Site) -> None:
    slug = await site.new_tenant("reset")
    user = await site.new_user(slug)
    await ask_reset(site, slug, user.username)

    await age_reset_tokens(site, user, site.settings.password_reset_interval_s + 1)
    again = await ask_reset(site, slug, user.username)

    assert again.status_code == 202
    assert len(mails_to(site, user)) == 2


async def test_throttle_is_per_user(site: Site) -> None:
    slug = await site.new_tenant("reset")
    alice, bob = await site.new_user(slug), await site.new_user(slug)

    await ask_reset(site, slug, alice.username)
    await ask_reset(site, slug, bob.username)

    assert len(mails_to(site, alice)) == len(mails_to(site, bob)) == 1
