"""Verifying tokens by asking the IAM (RFC 7662 introspection).

Offline verification (``RemoteTokenVerifier``) trusts a signed token until it
expires. A service that must notice revocations, deactivated users and
suspended tenants at once asks the IAM instead, with the credentials of one of
the tenant's service accounts::

    app.state.token_verifier = IntrospectingTokenVerifier(
        "https://iam.example.com", {"acme": (client_id, client_secret)}
    )

The same FastAPI dependencies (``current_principal``, ``requires_permission``)
work with either verifier.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from eaf.context import ExecutionContext
from eaf.errors import InfrastructureError
from eaf.iam.client import IamApiError, IamClient
from eaf.security.claims import InvalidTokenError, context_from_claims, read_unverified
from eaf.security.verifier import realm_of


class IntrospectingTokenVerifier:
    """Asks the IAM whether each token is active, caching answers briefly.

    An answer, active or not, is reused for ``cache_ttl_s`` (never past the
    token's expiry), so a burst of calls with one token costs one question;
    a revocation or suspension is therefore seen within ``cache_ttl_s``. With
    ``cache_ttl_s=0`` every call asks.

    Args:
        iam_url: the IAM's public base URL, as in its issuers.
        credentials: per tenant slug, the ``(client_id, client_secret)`` of a
            service account of that tenant; tokens of other tenants are refused
            without asking.
        client: an ``IamClient`` to use instead of one made for ``iam_url``.
        max_entries: the cache forgets its oldest answers beyond this many.
    """

    def __init__(
        self,
        iam_url: str,
        credentials: Mapping[str, tuple[str, str]],
        *,
        client: IamClient | None = None,
        cache_ttl_s: float = 1.0,
        max_entries: int = 10_000,
    ) -> None:
        self.iam_url = iam_url.rstrip("/")
        self.credentials = dict(credentials)
        self._owns_client = client is None
        self.client = client or IamClient(self.iam_url)
        self.cache_ttl_s = cache_ttl_s
        self.max_entries = max_entries
        self._answers: dict[str, tuple[float, dict[str, Any]]] = {}

    async def aclose(self) -> None:
        """Close the IAM client the verifier made for itself, if it made one."""
        if self._owns_client:
            await self.client.aclose()

    async def verify(self, token: str) -> ExecutionContext:
        """The caller's context if the IAM says the token is active.

        Raises:
            InvalidTokenError: the token is malformed, of an untrusted issuer
                or tenant, or not active.
            InfrastructureError: the IAM could not answer.
        """
        tenant_id = self._tenant_of(token)
        answer = await self._answer_for(tenant_id, token)
        if answer.get("active") is not True:
            raise InvalidTokenError("token is not active")
        if answer.get("tenant") != tenant_id:
            raise InvalidTokenError("token tenant does not match its issuer")
        return context_from_claims(answer)

    def _tenant_of(self, token: str) -> str:
        _, unverified = read_unverified(token)
        issuer = unverified.get("iss")
        tenant_id = realm_of(issuer, self.iam_url) if isinstance(issuer, str) else None
        if tenant_id is None:
            raise InvalidTokenError("token issuer is not trusted")
        if tenant_id not in self.credentials:
            raise InvalidTokenError(f"tokens of tenant {tenant_id!r} are not accepted")
        return tenant_id

    async def _answer_for(self, tenant_id: str, token: str) -> dict[str, Any]:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        answer = await self._ask(tenant_id, token)
        self._remember(key, answer, now)
        return answer

    async def _ask(self, tenant_id: str, token: str) -> dict[str, Any]:
        client_id, client_secret = self.credentials[tenant_id]
        try:
            return await self.client.introspect(
                tenant_id, token, client_id=client_id, client_secret=client_secret
            )
        except IamApiError as exc:
            if exc.status == 404:
                raise InvalidTokenError(f"tenant {tenant_id!r} is unknown") from exc
            # Our own credentials or the IAM failed, not the caller's token.
            raise InfrastructureError(
                f"introspection for tenant {tenant_id!r} failed: {exc.status}"
            ) from exc

    def _remember(self, key: str, answer: dict[str, Any], now: float) -> None:
        if self.cache_ttl_s <= 0:
            return
        expires_at = now + self.cache_ttl_s
        exp = answer.get("exp")
        if isinstance(exp, int | float):
            expires_at = min(expires_at, now + exp - time.time())
        if len(self._answers) >= self.max_entries:
            self._forget_expired(now)
        while len(self._answers) >= self.max_entries:
            del self._answers[next(iter(self._answers))]  # oldest first
        self._answers[key] = (expires_at, answer)

    def _forget_expired(self, now: float) -> None:
        for key in [key for key, (until, _) in self._answers.items() if until <= now]:
            del self._answers[key]
