"""Roles and permissions: in tokens, in the SDK's checks, in events and headers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from eaf.bus.nats import HEADER_ACTOR_TENANT, HEADER_PERMISSIONS, HEADER_ROLES
from eaf.context import ExecutionContext, current_context
from eaf.http.problems import install_problem_handlers
from eaf.security import RemoteTokenVerifier, requires_permission
from tests.e2e.iam.conftest import BASE_URL, Site, bearer

Reader = Annotated[ExecutionContext, Depends(requires_permission("licenses:read"))]


def licenses_app(verifier: RemoteTokenVerifier) -> FastAPI:
    """A separate service that trusts the IAM through the SDK."""
    app = FastAPI()
    app.state.token_verifier = verifier
    install_problem_handlers(app)

    @app.get("/licenses")
    async def licenses(caller: Reader) -> dict[str, object]:
        current = current_context()
        return {"tenant": caller.tenant_id, "permissions": sorted(current.permissions)}

    @app.get(
        "/tenants/{tenant}/licenses",
        dependencies=[
            Depends(requires_permission("licenses:read", tenant_param="tenant"))
        ],
    )
    async def tenant_licenses(tenant: str) -> dict[str, str]:
        return {"tenant": tenant}

    return app


@pytest.fixture(scope="module")
async def service(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=site.client._transport) as http:
        app = licenses_app(RemoteTokenVerifier(BASE_URL, http=http))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://licenses"
        ) as client:
            yield client


async def define(site: Site, slug: str, name: str, permissions: list[str]) -> None:
    answer = await site.client.post(
        f"/api/v1/tenants/{slug}/roles",
        json={"name": name, "permissions": permissions},
        headers=site.admin,
    )
    assert answer.status_code == 201, answer.text


async def test_custom_role_permissions_reach_token_and_sdk(
    site: Site, service: httpx.AsyncClient
) -> None:
    slug = await site.new_tenant("rbac")
    await define(site, slug, "license-viewer", ["licenses:read"])
    viewer = await site.new_user(slug, ["member", "license-viewer"])
    member = await site.new_user(slug)
    viewer_token = (await site.token(slug, viewer.username, viewer.password))[
        "access_token"
    ]

    allowed = await service.get("/licenses", headers=bearer(viewer_token))
    denied = await service.get("/licenses", headers=await site.login(member))
    own = await service.get(f"/tenants/{slug}/licenses", headers=bearer(viewer_token))
    other = await service.get(
        "/tenants/elsewhere/licenses", headers=bearer(viewer_token)
    )

    assert jwt.decode(viewer_token, options={"verify_signature": False})[
        "permissions"
    ] == ["licenses:read"]
    assert allowed.json() == {"tenant": slug, "permissions": ["licenses:read"]}
    assert [denied.status_code, own.status_code, other.status_code] == [403, 200, 403]


async def test_role_changes_apply_to_the_next_token(site: Site) -> None:
    slug = await site.new_tenant("rbac")
    await define(site, slug, "editor", ["docs:read"])
    user = await site.new_user(slug, ["editor"])

    await site.client.put(
        f"/api/v1/tenants/{slug}/roles/editor",
        json={"permissions": ["docs:read", "docs:write"]},
        headers=site.admin,
    )
    widened = await site.token(slug, user.username, user.password)
    await site.client.delete(f"/api/v1/tenants/{slug}/roles/editor", headers=site.admin)
    emptied = await site.token(slug, user.username, user.password)

    def permissions(tokens: dict[str, str]) -> list[str]:
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        return list(claims["permissions"])

    assert permissions(widened) == ["docs:read", "docs:write"]
    assert permissions(emptied) == []


async def test_roles_list_built_in_and_custom(site: Site) -> None:
    slug = await site.new_tenant("rbac")
    await define(site, slug, "auditor", ["iam:audit.read"])

    answer = await site.client.get(f"/api/v1/tenants/{slug}/roles", headers=site.admin)

    assert [role["name"] for role in answer.json()] == [
        "member",
        "superadmin",
        "tenant_admin",
        "auditor",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x1", "permissions": ["NotAPermission"]},
        {"name": "tenant_admin", "permissions": []},
        {"name": "Bad Name", "permissions": []},
    ],
)
async def test_invalid_roles_are_refused(site: Site, body: dict[str, object]) -> None:
    slug = await site.new_tenant("rbac")

    answer = await site.client.post(
        f"/api/v1/tenants/{slug}/roles", json=body, headers=site.admin
    )

    assert answer.status_code == 422


async def test_nobody_grants_more_than_they_hold(site: Site) -> None:
    slug = await site.new_tenant("rbac")
    await define(site, slug, "user-manager", ["iam:users.read", "iam:users.write"])
    manager = await site.new_user(slug, ["user-manager"])
    headers = await site.login(manager)
    _, platform_admin = await site.tenant_admin("default")

    member = await site.client.post(
        f"/api/v1/tenants/{slug}/users",
        json={"username": "plain", "email": "p@x.example", "password": "plain-pw-12"},
        headers=headers,
    )
    admin = await site.client.post(
        f"/api/v1/tenants/{slug}/users",
        json={
            "username": "boss",
            "email": "b@x.example",
            "password": "boss-pw-123",
            "roles": ["tenant_admin"],
        },
        headers=headers,
    )
    superadmin = await site.client.post(
        "/api/v1/tenants/default/users",
        json={
            "username": "root2",
            "email": "r@x.example",
            "password": "root-pw-123",
            "roles": ["superadmin"],
        },
        headers=platform_admin,
    )

    assert [member.status_code, admin.status_code, superadmin.status_code] == [
        201,
        403,
        403,
    ]


async def test_actor_context_reaches_event_metadata_and_nats_headers(
    site: Site,
) -> None:
    slug = await site.new_tenant("ctx")
    admin_user, admin = await site.tenant_admin(slug)

    created = await site.client.post(
        f"/api/v1/tenants/{slug}/roles",
        json={"name": "watcher", "permissions": ["flags:read"]},
        headers=admin,
    )
    event = [
        recorded
        async for recorded in site.platform.store.read_stream(slug, "role-watcher")
    ][0]
    subject = f"{site.settings.subject_prefix}.{slug}.iam.RoleDefined"
    headers = await published_headers(site, subject)

    assert created.status_code == 201
    assert event.metadata["actor"] == admin_user.id
    assert event.metadata["actor_tenant"] == slug
    assert event.metadata["actor_roles"] == "tenant_admin"
    assert headers[HEADER_ACTOR_TENANT] == slug
    assert headers[HEADER_ROLES] == "tenant_admin"
    assert headers[HEADER_PERMISSIONS] == "*"


async def published_headers(site: Site, subject: str) -> dict[str, str]:
    bus = site.platform.bus
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            message = await bus.js.get_last_msg(bus.stream_name, subject)
        except Exception:  # noqa: BLE001 - not published yet
            await asyncio.sleep(0.05)
            continue
        return dict(message.headers or {})
    raise AssertionError(f"nothing published on {subject}")
