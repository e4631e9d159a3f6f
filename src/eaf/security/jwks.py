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
    fetched_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwksCache:
    """Public keys by JWKS URL and key id.

    A key set is kept for ``ttl_s``. A token signed with a key id the cached set
    lacks (the issuer rotated its keys) triggers one refetch, but no more often
    than every ``min_refetch_s`` per URL, so a flood of made-up key ids cannot
    turn into a flood of requests to the issuer. When the issuer cannot be
    reached, a stale set keeps serving the keys it has.
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
        entry = self._sets.get(url)
        now = time.monotonic()
        if (
            entry is not None
            and kid in entry.keys
            and now - entry.fetched_at < self.ttl_s
        ):
            return entry.keys[kid]
        entry = await self._refresh(url, kid)
        found = entry.keys.get(kid)
        if found is None:
            raise InvalidTokenError("token signed with an unknown key")
        return found

    async def _refresh(self, url: str, kid: str) -> _KeySet:
        entry = self._sets.setdefault(url, _KeySet({}, float("-inf")))
        async with entry.lock:
            age = time.monotonic() - entry.fetched_at
            is_fresh = age < self.ttl_s
            if kid in entry.keys and is_fresh:
                return entry  # another task refreshed while we waited
            if age < self.min_refetch_s:
                return entry
            try:
                entry.keys = await self._fetch(url)
            except InfrastructureError:
                if not entry.keys:
                    raise
                log.warning("security.jwks_stale", url=url, age_s=round(age, 1))
                return entry
            entry.fetched_at = time.monotonic()
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
