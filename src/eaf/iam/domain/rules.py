"""Validation rules for identifiers, roles, permissions and passwords."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from eaf.errors import DomainError
from eaf.text import unsafe_character

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,62}\Z")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}\Z")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}\Z")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,62}\Z")
PERMISSION = re.compile(r"^(\*|[a-z][a-z0-9_-]{0,62}:(\*|[a-z][a-z0-9_.-]{0,62}))\Z")

SUPERADMIN = "superadmin"
TENANT_ADMIN = "tenant_admin"
MEMBER = "member"
BUILT_IN_ROLES = frozenset({SUPERADMIN, TENANT_ADMIN, MEMBER})

# Built-in roles grant these permissions. Tenancy is enforced apart from
# permissions: "*" of a tenant admin reaches only the admin's own tenant.
BUILT_IN_PERMISSIONS: dict[str, frozenset[str]] = {
    SUPERADMIN: frozenset({"*"}),
    TENANT_ADMIN: frozenset({"*"}),
    MEMBER: frozenset(),
}

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class InvalidInputError(DomainError):
    """A value breaks a rule of the IAM; ``field`` names it."""

    status = 422
    code = "invalid-input"


class InvalidStateError(DomainError):
    """The command does not fit the current state (suspend a suspended tenant)."""

    status = 409
    code = "invalid-state"


def check_text(text: str, field: str, what: str | None = None) -> str:
    """``text`` if it holds no control or bidi override characters.

    Every free-text value of the IAM (names, descriptions, reasons) passes
    here, so nothing stored can move a terminal's cursor or reorder a line.
    """
    char = unsafe_character(text)
    if char is not None:
        raise InvalidInputError(
            f"{what or field.replace('_', ' ')} must not contain control or "
            f"bidirectional override characters (found U+{ord(char):04X})",
            field=field,
        )
    return text


def check_slug(slug: str) -> str:
    """The slug, if it is a valid tenant slug."""
    if not SLUG.match(slug):
        raise InvalidInputError(
            f"tenant slug {slug!r} is invalid: use 2-63 lowercase letters, digits "
            "and dashes, starting with a letter",
            field="slug",
        )
    return slug


def check_username(username: str) -> str:
    """The username, if it is valid."""
    if not USERNAME.match(username):
        raise InvalidInputError(
            f"username {username!r} is invalid: use up to 128 letters, digits and "
            "._@- starting with a letter or digit",
            field="username",
        )
    return username


def check_email(email: str) -> str:
    """The email, if it looks like an address."""
    if not EMAIL.match(email) or unsafe_character(email) is not None:
        raise InvalidInputError(f"email {email!r} is not an address", field="email")
    return email


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_display_name(display_name: str) -> str:
    """The display name with whitespace collapsed."""
    cleaned = " ".join(check_text(display_name, "display_name").split())
    if len(cleaned) > 200:
        raise InvalidInputError(
            "display name is longer than 200 characters", field="display_name"
        )
    return cleaned


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must satisfy."""

    min_length: int = MIN_PASSWORD_LENGTH

    def check(self, password: str, username: str) -> None:
        """Raise ``InvalidInputError`` if ``password`` breaks the policy."""
        # The token endpoint refuses NUL, and other controls cannot be typed
        # at a login prompt: such a password could never be used.
        if any(unicodedata.category(char) == "Cc" for char in password):
            raise InvalidInputError(
                "password must not contain control characters such as NUL, "
                "tab or newline",
                field="password",
            )
        if len(password) < self.min_length:
            raise InvalidInputError(
                f"password must have at least {self.min_length} characters",
                field="password",
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidInputError(
                f"password must have at most {MAX_PASSWORD_LENGTH} characters",
                field="password",
            )
        if password.casefold() == username.casefold():
            raise InvalidInputError(
                "password must differ from the username", field="password"
            )


def check_password(password: str, username: str) -> None:
    """Check ``password`` against the default policy."""
    PasswordPolicy().check(password, username)


def check_role_name(name: str) -> str:
    """The name, if it can name a custom role."""
    if not ROLE_NAME.match(name):
        raise InvalidInputError(
            f"role name {name!r} is invalid: use 2-63 lowercase letters, digits "
            "and _.- starting with a letter",
            field="name",
        )
    if name in BUILT_IN_ROLES:
        raise InvalidInputError(
            f"{name!r} is a built-in role and cannot be redefined", field="name"
        )
    return name


def check_superadmin_remains(username: str, other_active_superadmins: int) -> None:
    """Refuse a change that would leave the platform without a superadmin.

    Without one, nobody could create tenants or repair the platform tenant.
    """
    if other_active_superadmins < 1:
        raise InvalidStateError(
            f"{username!r} is the last active superadmin; create or activate "
            "another superadmin first"
        )


def check_permissions(permissions: Iterable[str]) -> list[str]:
    """Validate ``context:action`` strings (``*`` wildcards allowed)."""
    checked = sorted(set(permissions))
    invalid = [item for item in checked if not PERMISSION.match(item)]
    if invalid:
        raise InvalidInputError(
            f"invalid permissions {invalid}: use 'context:action', for example "
            "'licenses:read', 'licenses:*' or '*'",
            field="permissions",
        )
    if len(checked) > 100:
        raise InvalidInputError("a role holds at most 100 permissions")
    return checked


def check_roles(
    roles: Iterable[str],
    *,
    is_platform_tenant: bool,
    custom_roles: Collection[str] = (),
) -> list[str]:
    """Validate role names against built-in and the tenant's custom roles."""
    wanted = set(roles)
    unknown = sorted(wanted - BUILT_IN_ROLES - set(custom_roles))
    if unknown:
        raise InvalidInputError(
            f"unknown roles {unknown}; built-in roles are {sorted(BUILT_IN_ROLES)}"
            " and custom roles are defined per tenant",
            field="roles",
        )
    if SUPERADMIN in wanted and not is_platform_tenant:
        raise InvalidInputError(
            "superadmin can only be given in the platform tenant", field="roles"
        )
    return sorted(wanted)


def permissions_of(
    roles: Iterable[str], custom: Mapping[str, Collection[str]]
) -> list[str]:
    """The union of what ``roles`` grant; unknown roles grant nothing."""
    granted: set[str] = set()
    for role in roles:
        granted |= BUILT_IN_PERMISSIONS.get(role, frozenset())
        granted |= set(custom.get(role, ()))
    return sorted(granted)
