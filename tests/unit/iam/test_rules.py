"""IAM rules: permissions, roles and the password policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eaf.context import ExecutionContext
from eaf.iam.domain.rules import (
    InvalidInputError,
    PasswordPolicy,
    check_email,
    check_permissions,
    check_roles,
    check_slug,
    check_username,
    permissions_of,
)


@pytest.mark.parametrize("permission", ["licenses:read", "flags:*", "*", "a:b.c-d"])
def test_valid_permissions_pass(permission: str) -> None:
    assert check_permissions([permission]) == [permission]


@pytest.mark.parametrize("permission", ["licenses", "Licenses:read", ":x", "a:b:c", ""])
def test_invalid_permissions_are_refused(permission: str) -> None:
    with pytest.raises(InvalidInputError):
        check_permissions([permission])


def test_superadmin_is_only_for_the_platform_tenant() -> None:
    with pytest.raises(InvalidInputError):
        check_roles(["superadmin"], is_platform_tenant=False)

    assert check_roles(["superadmin"], is_platform_tenant=True) == ["superadmin"]


def test_custom_roles_must_exist_in_the_tenant() -> None:
    with pytest.raises(InvalidInputError):
        check_roles(["viewer"], is_platform_tenant=False)

    checked = check_roles(
        ["viewer", "member"], is_platform_tenant=False, custom_roles=["viewer"]
    )
    assert checked == ["member", "viewer"]


def test_effective_permissions_unite_roles() -> None:
    custom = {"viewer": ["docs:read"], "editor": ["docs:read", "docs:write"]}

    assert permissions_of(["viewer", "editor", "ghost"], custom) == [
        "docs:read",
        "docs:write",
    ]
    assert permissions_of(["tenant_admin"], custom) == ["*"]


def test_context_permission_wildcards() -> None:
    context = ExecutionContext(permissions=frozenset({"docs:*", "flags:read"}))

    assert context.has_permission("docs:write")
    assert context.has_permission("flags:read")
    assert not context.has_permission("flags:write")


@pytest.mark.parametrize(
    ("password", "username"),
    [("short", "bob"), ("Bob-the-Builder", "bob-the-builder"), ("x" * 1025, "bob")],
)
def test_password_policy_refuses(password: str, username: str) -> None:
    with pytest.raises(InvalidInputError):
        PasswordPolicy(min_length=8).check(password, username)


def test_password_policy_minimum_is_configurable() -> None:
    PasswordPolicy(min_length=8).check("eight-ch", "bob")

    with pytest.raises(InvalidInputError):
        PasswordPolicy(min_length=12).check("eight-ch", "bob")


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_slug, "acme\n"),
        (check_username, "bob\n"),
        (check_email, "bob@example.com\n"),
        (lambda value: check_permissions([value]), "licenses:read\n"),
    ],
)
def test_a_trailing_newline_is_refused(
    check: Callable[[str], object], value: str
) -> None:
    with pytest.raises(InvalidInputError):
        check(value)
    assert check(value.rstrip("\n")) is not None
