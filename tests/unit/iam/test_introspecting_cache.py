"""The introspecting verifier's cache: brief, bounded, never past expiry."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest

from eaf.iam.client import IamClient
from eaf.security import IntrospectingTokenVerifier, InvalidTokenError

IAM = "https://iam.example"


def b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def token_for(tenant: str, jti: str) -> str:
    """A token of the right shape; only the IAM judges it here."""
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
    claims = {"iss": f"{IAM}/realms/{tenant}", "tenant": tenant, "jti": jti}
    return f"{b64(header)}.{b64(claims)}.c2ln"


class Introspection:
    """An in-memory introspection endpoint that counts questions."""

    def __init__(self) -> None:
        self.questions = 0
        self.answers: dict[str, dict[str, Any]] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.questions += 1
        token = dict(httpx.QueryParams(request.content.decode()))["token"]
        return httpx.Response(200, json=self.answers.get(token, {"active": False}))

    def activate(self, token: str, tenant: str = "acme", **extra: Any) -> None:
        self.answers[token] = {
            "active": True,
            "sub": "user-1",
            "tenant": tenant,
            "exp": int(time.time()) + 600,
            **extra,
        }


@pytest.fixture
def iam() -> Introspection:
    return Introspection()


def verifier_for(iam: Introspection, **options: Any) -> IntrospectingTokenVerifier:
    client = IamClient(IAM, transport=httpx.MockTransport(iam.handle))
    return IntrospectingTokenVerifier(
        IAM, {"acme": ("sa-acme", "secret")}, client=client, **options
    )


async def test_active_token_becomes_the_callers_context(iam: Introspection) -> None:
    token = token_for("acme", "a")
    iam.activate(token, roles=["member"], permissions=["docs:read"])

    context = await verifier_for(iam).verify(token)

    assert (context.tenant_id, context.subject) == ("acme", "user-1")
    assert context.has_permission("docs:read")


async def test_inactive_answer_is_refused_and_cached(iam: Introspection) -> None:
    verifier = verifier_for(iam, cache_ttl_s=60)
    token = token_for("acme", "gone")

    for _ in range(3):
        with pytest.raises(InvalidTokenError):
            await verifier.verify(token)

    assert iam.questions == 1


async def test_answer_is_not_kept_past_the_token_expiry(iam: Introspection) -> None:
    verifier = verifier_for(iam, cache_ttl_s=600)
    token = token_for("acme", "expired")
    iam.activate(token, exp=int(time.time()) - 1)

    await verifier.verify(token)
    await verifier.verify(token)

    assert iam.questions == 2


async def test_oldest_answers_make_room_for_new_ones(iam: Introspection) -> None:
    verifier = verifier_for(iam, cache_ttl_s=600, max_entries=2)
    tokens = [token_for("acme", str(number)) for number in range(3)]
    for token in tokens:
        iam.activate(token)
        await verifier.verify(token)

    await verifier.verify(tokens[2])
    await verifier.verify(tokens[0])

    assert iam.questions == 4


async def test_answer_for_another_tenant_is_refused(iam: Introspection) -> None:
    token = token_for("acme", "x")
    iam.activate(token, tenant="other")

    with pytest.raises(InvalidTokenError, match="tenant"):
        await verifier_for(iam).verify(token)


async def test_untrusted_issuer_is_refused_without_asking(
    iam: Introspection,
) -> None:
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
    claims = {"iss": "https://evil.example/realms/acme", "tenant": "acme"}
    forged = f"{b64(header)}.{b64(claims)}.c2ln"

    with pytest.raises(InvalidTokenError, match="issuer"):
        await verifier_for(iam).verify(forged)

    assert iam.questions == 0
