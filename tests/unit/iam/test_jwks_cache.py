"""The SDK's JWKS cache: refetch on an unknown key, but not too often."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from eaf.errors import InfrastructureError
from eaf.security import InvalidTokenError, JwksCache

URL = "https://iam.example/realms/acme/protocol/openid-connect/certs"
INTERVAL_S = 0.5


def jwk(kid: str) -> dict[str, object]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    entry: dict[str, object] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**entry, "kid": kid, "use": "sig", "alg": "RS256"}


class KeyServer:
    """An in-memory JWKS endpoint that counts requests and can fail."""

    def __init__(self) -> None:
        self.keys = [jwk("k1")]
        self.requests = 0
        self.request_times: list[float] = []
        self.is_down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.request_times.append(time.monotonic())
        if self.is_down:
            return httpx.Response(503)
        return httpx.Response(200, json={"keys": self.keys})


@pytest.fixture
def server() -> KeyServer:
    return KeyServer()


def cache_for(server: KeyServer, **options: float) -> JwksCache:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    return JwksCache(http, **options)


async def test_known_key_is_served_from_cache(server: KeyServer) -> None:
    cache = cache_for(server)

    for _ in range(5):
        await cache.key(URL, "k1")

    assert server.requests == 1


async def test_new_key_triggers_one_refetch(server: KeyServer) -> None:
    cache = cache_for(server, min_refetch_s=0)
    await cache.key(URL, "k1")
    server.keys.append(jwk("k2"))

    await cache.key(URL, "k2")

    assert server.requests == 2


async def test_key_published_inside_interval_is_found_after_a_wait(
    server: KeyServer,
) -> None:
    """A new kid right after a fetch waits out the interval, then refetches."""
    cache = cache_for(server, min_refetch_s=INTERVAL_S)
    await cache.key(URL, "k1")
    server.keys.append(jwk("k2"))

    key = await cache.key(URL, "k2")

    assert key is not None
    assert server.requests == 2
    gap_s = server.request_times[1] - server.request_times[0]
    assert gap_s >= INTERVAL_S / 2  # waited; without the wait it is milliseconds


async def test_burst_of_unknown_keys_shares_one_refetch(server: KeyServer) -> None:
    cache = cache_for(server, min_refetch_s=INTERVAL_S)
    await cache.key(URL, "k1")

    outcomes = await asyncio.gather(
        *(cache.key(URL, f"made-up-{attempt}") for attempt in range(10)),
        return_exceptions=True,
    )

    assert all(isinstance(outcome, InvalidTokenError) for outcome in outcomes)
    assert server.requests == 2


async def test_unknown_keys_refetch_at_most_once_per_interval(
    server: KeyServer,
) -> None:
    cache = cache_for(server, min_refetch_s=INTERVAL_S)
    await cache.key(URL, "k1")

    for attempt in range(3):
        with pytest.raises(InvalidTokenError):
            await cache.key(URL, f"made-up-{attempt}")

    gaps_s = [
        later - earlier for earlier, later in itertools.pairwise(server.request_times)
    ]
    assert server.requests == 4
    assert min(gaps_s) >= INTERVAL_S / 2


async def test_stale_known_key_is_served_without_waiting(server: KeyServer) -> None:
    cache = cache_for(server, ttl_s=0, min_refetch_s=60)
    await cache.key(URL, "k1")

    key = await asyncio.wait_for(cache.key(URL, "k1"), timeout=30)

    assert key is not None
    assert server.requests == 1


async def test_stale_keys_serve_while_issuer_is_down(server: KeyServer) -> None:
    cache = cache_for(server, ttl_s=0, min_refetch_s=0)
    await cache.key(URL, "k1")
    server.is_down = True

    key = await cache.key(URL, "k1")

    assert key is not None
    assert server.requests == 2


async def test_unreachable_issuer_without_keys_is_an_infrastructure_error(
    server: KeyServer,
) -> None:
    server.is_down = True

    with pytest.raises(InfrastructureError):
        await cache_for(server).key(URL, "k1")
