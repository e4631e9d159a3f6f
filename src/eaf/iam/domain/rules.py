"""Validation rules for identifiers, roles and passwords."""

from __future__ import annotations

import re

from eaf.errors import DomainError

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")

SUPERADMIN = "superadmin"
TENANT_ADMIN = "tenant_admin"
MEMBER = "member"
BUILT_IN_ROLES = frozenset({SUPERADMIN, TENANT_ADMIN, MEMBER})

MIN_PASSWORD_LENGTH = 8


class InvalidInputError(DomainError):
    status = 422
    code = "invalid-input"


def check_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise InvalidInputError(
            f"tenant slug {slug!r} is invalid: use 2-63 lowercase letters, digits "
            "and dashes, starting with a letter",
            field="slug",
        )
    return slug


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise InvalidInputError(
            f"username {username!r} is invalid: use up to 128 letters, digits and "
            "._@- starting with a letter or digit",
            field="username",
        )
    return username


def check_email(email: str) -> str:
    if not EMAIL.match(email):
        raise InvalidInputError(f"email {email!r} is not an address", field="email")
    return email


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters",
            field="password",
        )
    if password.casefold() == username.casefold():
        raise InvalidInputError(
            "password must differ from the username", field="password"
        )


def check_roles(roles: list[str], *, is_platform_tenant: bool) -> list[str]:
    unknown = sorted(set(roles) - BUILT_IN_ROLES)
    if unknown:
        raise InvalidInputError(
            f"unknown roles {unknown}; built-in roles are {sorted(BUILT_IN_ROLES)}",
            field="roles",
        )
    if SUPERADMIN in roles and not is_platform_tenant:
        raise InvalidInputError(
            "superadmin can only be given in the platform tenant", field="roles"
        )
    return sorted(set(roles))
