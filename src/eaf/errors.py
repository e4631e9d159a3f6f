"""The root of every error EAF raises on purpose.

Each capability has its own subtree (event store, bus, IAM, licensing, ...).
Adapters translate driver errors into these types at the edge, so nothing outside
an adapter needs to import psycopg or nats exceptions.
"""

from __future__ import annotations


class EAFError(Exception):
    """Base class of all EAF errors."""


class ConfigurationError(EAFError):
    """Settings are missing, inconsistent or unsafe for the chosen environment."""


class InfrastructureError(EAFError):
    """A server EAF depends on (PostgreSQL, NATS) is unreachable or failed."""


class DomainError(EAFError):
    """A command broke a business rule; nothing was written.

    ``status`` is the HTTP status the API answers with, ``code`` a stable key.
    """

    status = 422
    code = "domain-rule-violated"

    def __init__(self, detail: str, **context: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.context = context


class InvalidDataError(DomainError):
    """Input the database cannot hold, such as NUL characters or broken Unicode."""

    status = 422
    code = "invalid-data"


class NotFoundError(DomainError):
    status = 404
    code = "not-found"


class AlreadyExistsError(DomainError):
    status = 409
    code = "already-exists"


class PermissionDeniedError(DomainError):
    status = 403
    code = "forbidden"


class AuthenticationError(DomainError):
    status = 401
    code = "unauthenticated"
