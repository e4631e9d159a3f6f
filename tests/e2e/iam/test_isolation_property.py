"""Property: no principal of one tenant reads or changes another tenant's data.

Hypothesis builds random worlds of tenants, users, custom roles and service
accounts; every principal then tries the IAM API on every other tenant, and
raw SQL under row-level security as the runtime role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.iam.conftest import Site, bearer

ROLE_KINDS = ("member", "tenant_admin", "custom")
PERMISSION = st.from_regex(r"[a-z]{1,6}:[a-z]{1,6}", fullmatch=True)

tenant_specs = st.lists(
    st.tuples(
        st.lists(st.sampled_from(ROLE_KINDS), min_size=1, max_size=2),
        st.lists(PERMISSION, max_size=3),
    ),
    min_size=2,
    max_size=3,
)


@dataclass
class World:
    tenants: list[str] = field(default_factory=list)
    users: dict[str, list[str]] = field(default_factory=dict)
    principals: list[tuple[str, dict[str, str]]] = field(default_factory=list)


async def build_world(site: Site, specs: list[tuple[list[str], list[str]]]) -> World:
    world = World()
    for kinds, permissions in specs:
        slug = await site.new_tenant("prop")
        world.tenants.append(slug)
        await site.client.post(
            f"/api/v1/tenants/{slug}/roles",
            json={"name": "custom", "permissions": permissions},
            headers=site.admin,
        )
        world.users[slug] = []
        for kind in kinds:
            user = await site.new_user(slug, [kind])
            world.users[slug].append(user.id)
            world.principals.append((slug, await site.login(user)))
        account = await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts",
            json={"name": "robot", "roles": ["tenant_admin"]},
            headers=site.admin,
        )
        world.principals.append((slug, await service_token(site, slug, account.json())))
    return world


async def service_token(
    site: Site, slug: str, account: dict[str, Any]
) -> dict[str, str]:
    answer = await site.client.post(
        f"/realms/{slug}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=(account["client_id"], account["client_secret"]),
    )
    return bearer(answer.json()["access_token"])


def attempts(target: str, user_id: str) -> list[tuple[str, str, Any]]:
    """Every IAM request on ``target``, with a body where one is needed."""
    base = f"/api/v1/tenants/{target}"
    user = f"{base}/users/{user_id}"
    new_user = {"username": "intruder", "email": "i@x.example", "password": "pw-123456"}
    return [
        ("GET", base, None),
        ("PATCH", base, {"name": "hijacked"}),
        ("POST", f"{base}/suspend", None),
        ("GET", f"{base}/users", None),
        ("POST", f"{base}/users", new_user),
        ("GET", user, None),
        ("PATCH", user, {"display_name": "pwned"}),
        ("POST", f"{user}/deactivate", None),
        ("POST", f"{user}/password", {"new_password": "taken-over-1"}),
        ("PUT", f"{user}/roles/tenant_admin", None),
        ("GET", f"{base}/roles", None),
        ("POST", f"{base}/roles", {"name": "backdoor", "permissions": ["*"]}),
        ("DELETE", f"{base}/roles/custom", None),
        ("GET", f"{base}/service-accounts", None),
        ("POST", f"{base}/service-accounts", {"name": "mole"}),
        ("GET", f"{base}/clients", None),
        ("POST", f"{base}/keys/rotate", None),
        ("GET", f"{base}/audit", None),
    ]


def event_counts(site: Site) -> dict[str, int]:
    with psycopg.connect(site.database.owner_dsn) as conn:
        rows = conn.execute(
            "SELECT tenant_id, count(*) FROM events GROUP BY tenant_id"
        ).fetchall()
    return {str(tenant): int(count) for tenant, count in rows}


def rls_tables(site: Site) -> list[str]:
    with psycopg.connect(site.database.owner_dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind = 'r' AND c.relrowsecurity ORDER BY 1"
        ).fetchall()
    return [str(row[0]) for row in rows]


def assert_rls_hides_others(site: Site, world: World, tables: list[str]) -> None:
    with psycopg.connect(site.database.runtime_dsn, autocommit=False) as conn:
        for own in world.tenants:
            conn.execute("SELECT set_config('eaf.tenant_id', %s, true)", (own,))
            for table in tables:
                foreign = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE tenant_id <> %s",  # noqa: S608
                    (own,),
                ).fetchone()
                assert foreign == (0,), f"{own} sees rows of others in {table}"
            others = [slug for slug in world.tenants if slug != own]
            changed = conn.execute(
                "UPDATE iam_credentials SET password_hash = 'x' "
                "WHERE tenant_id = ANY(%s)",
                (others,),
            ).rowcount
            assert changed == 0
            conn.rollback()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=tenant_specs)
async def test_no_principal_crosses_tenants(
    site: Site, specs: list[tuple[list[str], list[str]]]
) -> None:
    world = await build_world(site, specs)
    before = event_counts(site)

    for own, headers in world.principals:
        for target in world.tenants:
            if target == own:
                continue
            victim = world.users[target][0]
            for method, path, body in attempts(target, victim):
                answer = await site.client.request(
                    method, path, json=body, headers=headers
                )
                assert answer.status_code == 403, (method, path, answer.text)
            info = await site.client.get(
                f"/realms/{target}/protocol/openid-connect/userinfo", headers=headers
            )
            assert info.status_code == 401

    after = event_counts(site)
    assert {slug: after[slug] for slug in world.tenants} == {
        slug: before[slug] for slug in world.tenants
    }
    tables = rls_tables(site)
    assert {"iam_roles", "iam_refresh_tokens", "iam_login_failures"} <= set(tables)
    assert_rls_hides_others(site, world, tables)


async def test_every_iam_table_but_the_registry_has_rls(site: Site) -> None:
    with psycopg.connect(site.database.owner_dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
            "AND c.relname LIKE 'iam\\_%%' AND NOT c.relrowsecurity"
        ).fetchall()

    assert rows == [("iam_tenants",)]
