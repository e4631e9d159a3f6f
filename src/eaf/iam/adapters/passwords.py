"""Password hashing with argon2id, and digests of random secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

DEFAULT_MEMORY_KIB = 65536
DEFAULT_TIME_COST = 3


class Passwords:
    """Hashes and verifies passwords with argon2id.

    The defaults are argon2-cffi's (RFC 9106 low-memory profile). Hashes made
    with other parameters still verify; ``needs_rehash`` says when to upgrade.
    """

    def __init__(
        self,
        memory_kib: int = DEFAULT_MEMORY_KIB,
        time_cost: int = DEFAULT_TIME_COST,
        parallelism: int = 4,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """An argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        # Verifying against a dummy when there is no user keeps the timing of
        # "unknown user" and "wrong password" alike.
        """Whether ``password`` matches; False when there is no hash."""
        checked_hash = password_hash
        if checked_hash is None:
            self._dummy_hash = self._dummy_hash or self.hash(secrets.token_hex(16))
            checked_hash = self._dummy_hash
        try:
            is_match = self._hasher.verify(checked_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return is_match and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters."""
        return self._hasher.check_needs_rehash(password_hash)


def digest_secret(secret: str) -> str:
    """A SHA-256 digest of a high-entropy random secret (tokens, client secrets).

    Random secrets of 32 bytes need no slow hash: there is no dictionary to
    try, and a fast digest keeps the token endpoint quick.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, digest: str) -> bool:
    """Compare a secret with a stored digest in constant time."""
    return hmac.compare_digest(digest_secret(secret), digest)


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe secret of ``nbytes`` bytes."""
    return secrets.token_urlsafe(nbytes)
