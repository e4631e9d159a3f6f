"""A cache of remote JSON Web Key Sets, refetched when an unknown key appears."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from eaf.errors import InfrastructureError
from eaf.security.claims import InvalidTokenError, rsa_key_from_jwk

log = structlog.get_logger(__name__)


@dataclass
class _KeySet:
    keys: dict[str, RSAPublicKey]
    fetched_at: float = float("-inf")
    """When the last successful fetch began; the set is fresh for ``ttl_s``."""
    attempted_at: float = float("-inf")
    """When the last fetch, successful or not, began."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwksCache:
    """Public keys by JWKS URL and key id.

    A key set is kept for ``ttl_s``. A token signed with a key id the cached set
    lacks (the issuer rotated its keys) triggers a refetch, but no more often
    than every ``min_refetch_s`` per URL: inside that interval the request
    waits until it ends, then one refetch serves every request that waited, so
    a flood of made-up key ids cannot turn into a flood of requests to the
    issuer, while a key published a moment ago is still found. When the issuer
    cannot be reached, a stale set keeps serving the keys it has.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        ttl_s: float = 300.0,
        min_refetch_s: float = 1.0,
    ) -> None:
        self.http = http
        self.ttl_s = ttl_s
        self.min_refetch_s = min_refetch_s
        self._sets: dict[str, _KeySet] = {}
        self.fetches = 0

    async def key(self, url: str, kid: str) -> RSAPublicKey:
        """The key ``kid`` published at ``url``.

        Raises:
            InvalidTokenError: the issuer does not publish ``kid``.
            InfrastructureError: the key set could not be fetched at all.
        """
        asked_at = time.monotonic()
        entry = self._sets.get(url)
        if (
            entry is not None
            and kid in entry.keys
            and asked_at - entry.fetched_at < self.ttl_s
        ):
            return entry.keys[kid]
        entry = await self._refresh(url, kid, asked_at)
        found = entry.keys.get(kid)
        if found is not None:
            return found
        if entry.fetched_at == float("-inf"):
            raise InfrastructureError(f"cannot fetch JWKS from {url}")
        raise InvalidTokenError("token signed with an unknown key")

    async def _refresh(self, url: str, kid: str, asked_at: float) -> _KeySet:
        entry = self._sets.setdefault(url, _KeySet({}))
        async with entry.lock:
            if entry.attempted_at >= asked_at:
                return entry  # a fetch begun after we asked has answered
            now = time.monotonic()
            since_attempt = now - entry.attempted_at
            is_known = kid in entry.keys
            if is_known and now - entry.fetched_at < self.ttl_s:
                return entry
            if since_attempt < self.min_refetch_s:
                if is_known:
                    return entry  # stale but known: serve it, refetch later
                await asyncio.sleep(self.min_refetch_s - since_attempt)
            entry.attempted_at = time.monotonic()
            try:
                entry.keys = await self._fetch(url)
            except InfrastructureError:
                if not entry.keys:
                    raise
                age_s = round(entry.attempted_at - entry.fetched_at, 1)
                log.warning("security.jwks_stale", url=url, age_s=age_s)
                return entry
            entry.fetched_at = entry.attempted_at
            return entry

    async def _fetch(self, url: str) -> dict[str, RSAPublicKey]:
        self.fetches += 1
        try:
            response = await self.http.get(url, timeout=5.0)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InfrastructureError(f"cannot fetch JWKS from {url}: {exc}") from exc
        keys: dict[str, RSAPublicKey] = {}
        for jwk in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[str(jwk["kid"])] = rsa_key_from_jwk(jwk)
            except (InvalidTokenError, KeyError):
                log.warning("security.jwks_key_skipped", url=url, kid=jwk.get("kid"))
        log.debug("security.jwks_fetched", url=url, keys=len(keys))
        return keys
