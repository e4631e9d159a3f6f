"""A service that checks tokens with a live IAM sees suspensions at once."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from eaf.iam.client import IamClient
from eaf.security import IntrospectingTokenVerifier, Principal
from tests.support import servers as test_servers
from tests.support.live_server import LiveSite, admin_headers_for, live_site


@pytest.fixture(scope="module")
def live(
    servers: test_servers.Servers,
    template_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveSite]:
    with live_site(
        servers, template_database, tmp_path_factory.mktemp("intro")
    ) as site:
        yield site


class CountingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP that counts the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await super().handle_async_request(request)


@dataclass
class Realm:
    slug: str
    client_id: str
    client_secret: str
    token: str


async def new_realm(live: LiveSite) -> Realm:
    """A tenant with a service account for introspection and a user's token."""
    slug = f"in-{uuid.uuid4().hex[:8]}"
    admin = admin_headers_for(live)
    async with httpx.AsyncClient(base_url=live.url, headers=admin) as http:
        created = await http.post("/api/v1/tenants", json={"slug": slug, "name": slug})
        assert created.status_code == 201, created.text
        account = await http.post(
            f"/api/v1/tenants/{slug}/service-accounts", json={"name": "gateway"}
        )
        user = await http.post(
            f"/api/v1/tenants/{slug}/users",
            json={
                "username": "worker",
                "email": "worker@example.com",
                "password": "worker-password-1",
            },
        )
        assert user.status_code == 201, user.text
    async with IamClient(live.url) as iam:
        tokens = await iam.password_login(slug, "worker", "worker-password-1")
    body = account.json()
    return Realm(slug, body["client_id"], body["client_secret"], tokens.access_token)


def service_app(verifier: IntrospectingTokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = verifier

    @app.get("/whoami")
    async def whoami(caller: Principal) -> dict[str, str | None]:
        return {"tenant": caller.tenant_id, "subject": caller.subject}

    return app


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
async def realm(live: LiveSite) -> Realm:
    return await new_realm(live)


async def call_service(
    verifier: IntrospectingTokenVerifier, token: str
) -> httpx.Response:
    transport = httpx.ASGITransport(app=service_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        return await http.get("/whoami", headers={"Authorization": f"Bearer {token}"})


Factory = Callable[..., IntrospectingTokenVerifier]


@pytest.fixture
async def make_verifier(
    live: LiveSite, transport: CountingTransport
) -> AsyncIterator[Factory]:
    made: list[IntrospectingTokenVerifier] = []

    def make(
        realm: Realm, cache_ttl_s: float = 0, iam_url: str | None = None
    ) -> IntrospectingTokenVerifier:
        verifier = IntrospectingTokenVerifier(
            live.url,
            {realm.slug: (realm.client_id, realm.client_secret)},
            client=IamClient(iam_url or live.url, transport=transport),
            cache_ttl_s=cache_ttl_s,
        )
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.client.aclose()


async def suspend(live: LiveSite, slug: str) -> None:
    async with IamClient(live.url) as iam:
        iam.token = admin_headers_for(live)["Authorization"].removeprefix("Bearer ")
        await iam.suspend_tenant(slug, "unpaid")


async def test_suspended_tenant_token_is_refused_at_once(
    live: LiveSite, realm: Realm, transport: CountingTransport, make_verifier: Factory
) -> None:
    verifier = make_verifier(realm)

    before = await call_service(verifier, realm.token)
    await suspend(live, realm.slug)
    after = await call_service(verifier, realm.token)

    assert before.status_code == 200
    assert before.json()["tenant"] == realm.slug
    assert after.status_code == 401
    assert transport.requests == 2


async def test_answers_are_reused_within_the_cache_time(
    realm: Realm, transport: CountingTransport, make_verifier: Factory
) -> None:
    verifier = make_verifier(realm, cache_ttl_s=300)

    answers = [await call_service(verifier, realm.token) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert transport.requests == 1


async def test_tokens_of_other_tenants_are_refused_without_asking(
    live: LiveSite, realm: Realm, transport: CountingTransport, make_verifier: Factory
) -> None:
    other = await new_realm(live)
    verifier = make_verifier(realm)

    answer = await call_service(verifier, other.token)

    assert answer.status_code == 401
    assert transport.requests == 0


async def test_wrong_client_secret_is_a_503_not_a_401(
    realm: Realm, transport: CountingTransport, make_verifier: Factory
) -> None:
    realm.client_secret = "not-the-secret"  # noqa: S105 - a wrong one on purpose
    verifier = make_verifier(realm)

    answer = await call_service(verifier, realm.token)

    assert answer.status_code == 503
    assert transport.requests == 1


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_iam_is_a_503(
    realm: Realm, closed_port: int, make_verifier: Factory
) -> None:
    verifier = make_verifier(realm, iam_url=f"http://127.0.0.1:{closed_port}")

    answer = await call_service(verifier, realm.token)

    assert answer.status_code == 503
