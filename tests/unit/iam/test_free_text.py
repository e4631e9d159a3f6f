"""Free text of the IAM refuses control and bidi override characters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eaf.iam.domain.clients import BrowserClient, ServiceAccount
from eaf.iam.domain.role import Role
from eaf.iam.domain.rules import (
    InvalidInputError,
    InvalidStateError,
    PasswordPolicy,
    check_email,
    check_superadmin_remains,
    check_text,
)
from eaf.iam.domain.tenant import Tenant
from eaf.iam.domain.user import User

# ESC, a C1 CSI, DEL, NUL, a newline, RIGHT-TO-LEFT OVERRIDE, FIRST STRONG ISOLATE
UNSAFE = ["\x1b[2J", "\x9b31m", "\x7f", "\x00", "\n", "\u202e", "\u2068"]


def _tenant() -> Tenant:
    tenant = Tenant.create("acme", "Acme")
    tenant.mark_saved(1)
    return tenant


def _user() -> User:
    user = User.register("u1", "alice", "alice@example.com", ["member"])
    user.mark_saved(1)
    return user


FIELDS: dict[str, tuple[str, Callable[[str], object]]] = {
    "tenant name": ("name", lambda text: Tenant.create("acme", f"Acme{text}")),
    "tenant rename": ("name", lambda text: _tenant().rename(f"Acme{text}")),
    "suspension reason": (
        "reason",
        lambda text: _tenant().suspend(f"why{text}", is_platform_tenant=False),
    ),
    "display name": (
        "display_name",
        lambda text: _user().update_profile(display_name=f"Al{text}ice"),
    ),
    "role description": (
        "description",
        lambda text: Role("viewer").define(f"reads{text}", ["docs:read"]),
    ),
    "service account name": (
        "name",
        lambda text: ServiceAccount.create("a1", f"sync{text}", "sa-1", []),
    ),
    "client name": (
        "name",
        lambda text: BrowserClient.register(
            "app-1", f"app{text}", ["https://app.example/cb"]
        ),
    ),
    "redirect uri": (
        "redirect_uris",
        lambda text: BrowserClient.register(
            "app-1", "app", [f"https://app.example/cb{text}"]
        ),
    ),
}


@pytest.mark.parametrize("text", UNSAFE)
@pytest.mark.parametrize("label", sorted(FIELDS))
def test_free_text_refuses_controls(label: str, text: str) -> None:
    field, change = FIELDS[label]

    with pytest.raises(InvalidInputError) as refused:
        change(text)

    assert refused.value.context["field"] == field
    assert "control or bidirectional override" in refused.value.detail


@pytest.mark.parametrize("label", sorted(FIELDS))
def test_free_text_accepts_plain_unicode(label: str) -> None:
    _, change = FIELDS[label]

    change(" Zoë – Ærø 東京 ")


@pytest.mark.parametrize("text", UNSAFE)
def test_email_refuses_controls(text: str) -> None:
    with pytest.raises(InvalidInputError):
        check_email(f"al{text}ice@example.com")


def test_refusal_names_the_code_point() -> None:
    with pytest.raises(InvalidInputError, match="U\\+202E"):
        check_text("abc\u202edef", "name")


@pytest.mark.parametrize("password", ["pass\x00word-1", "pass\x1bword", "a\tlong-pw"])
def test_password_policy_refuses_control_characters(password: str) -> None:
    with pytest.raises(InvalidInputError, match="control characters") as refused:
        PasswordPolicy().check(password, "bob")

    assert refused.value.context["field"] == "password"


def test_password_policy_keeps_spaces_and_unicode() -> None:
    PasswordPolicy().check("pässwörd é 🔑 with spaces", "bob")


def test_last_superadmin_is_kept() -> None:
    check_superadmin_remains("admin", 1)

    with pytest.raises(InvalidStateError, match="create or activate another"):
        check_superadmin_remains("admin", 0)
