"""The platform keeps at least one active superadmin, even under concurrency.

Each test leaves the bootstrap admin as the only active superadmin.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import psycopg
from psycopg.rows import TupleRow

from eaf.eventstore.postgres import APPEND_LOCK_KEY
from tests.e2e.iam.conftest import ADMIN_PASSWORD, Site, User

PROBLEM = "application/problem+json"
USERS = "/api/v1/tenants/default/users"
LAST_ONE = "'admin' is the last active superadmin"


async def admin_login(site: Site) -> dict[str, str]:
    return await site.login(User("default", "", "admin", ADMIN_PASSWORD, ""))


async def admin_id(site: Site, headers: dict[str, str]) -> str:
    me = await site.client.get("/api/v1/me", headers=headers)
    return str(me.json()["id"])


def assert_last_one_kept(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "create or activate another superadmin first" in response.json()["detail"]


async def post(site: Site, path: str, headers: dict[str, str]) -> httpx.Response:
    return await site.client.post(path, headers=headers)


async def test_the_only_superadmin_cannot_deactivate_itself(site: Site) -> None:
    admin = await admin_login(site)
    own_id = await admin_id(site, admin)

    refused = await post(site, f"{USERS}/{own_id}/deactivate", admin)

    assert_last_one_kept(refused)
    assert LAST_ONE in refused.json()["detail"]
    shown = await site.client.get(f"{USERS}/{own_id}", headers=admin)
    assert shown.json()["status"] == "active"
    await admin_login(site)


async def test_the_only_superadmin_keeps_its_role(site: Site) -> None:
    admin = await admin_login(site)
    own_id = await admin_id(site, admin)

    refused = await site.client.delete(
        f"{USERS}/{own_id}/roles/superadmin", headers=admin
    )

    assert_last_one_kept(refused)
    shown = await site.client.get(f"{USERS}/{own_id}", headers=admin)
    assert "superadmin" in shown.json()["roles"]


async def test_a_superadmin_may_leave_while_another_remains(site: Site) -> None:
    admin = await admin_login(site)
    other = await site.new_user("default", ["superadmin"], headers=admin)

    revoked = await site.client.delete(
        f"{USERS}/{other.id}/roles/superadmin", headers=admin
    )
    deactivated = await post(site, f"{USERS}/{other.id}/deactivate", admin)

    assert revoked.status_code == 200, revoked.text
    assert deactivated.status_code == 200, deactivated.text
    assert_last_one_kept(
        await post(site, f"{USERS}/{await admin_id(site, admin)}/deactivate", admin)
    )


async def waiting_advisory_locks(conn: psycopg.AsyncConnection[TupleRow]) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())"
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def test_two_superadmins_deactivating_each_other_leave_one(
    site: Site,
) -> None:
    admin = await admin_login(site)
    first = await site.new_user("default", ["superadmin"], headers=admin)
    second = await site.new_user("default", ["superadmin"], headers=admin)
    first_headers, second_headers = await site.login(first), await site.login(second)
    own_id = await admin_id(site, admin)
    away = await post(site, f"{USERS}/{own_id}/deactivate", first_headers)
    assert away.status_code == 200, away.text

    # Holding the event store's append lock stops both commands just before
    # their commit, so each has checked for the other superadmin by the time
    # either change is written: without a lock around that check both pass.
    async with await psycopg.AsyncConnection.connect(site.database.owner_dsn) as holder:
        await holder.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK_KEY,))
        racing = [
            asyncio.create_task(
                post(site, f"{USERS}/{second.id}/deactivate", first_headers)
            ),
            asyncio.create_task(
                post(site, f"{USERS}/{first.id}/deactivate", second_headers)
            ),
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(t.done() for t in racing):
            if await waiting_advisory_locks(holder) >= 2:
                break
            await asyncio.sleep(0.05)
        await holder.commit()
        answers = await asyncio.gather(*racing)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 409], [answer.text for answer in answers]
    refused = next(answer for answer in answers if answer.status_code == 409)
    assert_last_one_kept(refused)
    survivor = first if answers[0].status_code == 200 else second
    survivor_headers = await site.login(survivor)
    back = await post(site, f"{USERS}/{own_id}/activate", survivor_headers)
    assert back.status_code == 200, back.text
    gone = await post(site, f"{USERS}/{survivor.id}/deactivate", survivor_headers)
    assert gone.status_code == 200, gone.text
