"""IAM aggregates: state changes and the rules they enforce, without I/O."""

from __future__ import annotations

import pytest

from eaf.errors import AlreadyExistsError, NotFoundError
from eaf.iam.domain.clients import BrowserClient, ServiceAccount
from eaf.iam.domain.role import Role
from eaf.iam.domain.rules import InvalidInputError, InvalidStateError
from eaf.iam.domain.tenant import Tenant, TenantReactivated, TenantSuspended
from eaf.iam.domain.user import User, UserProfileUpdated


def new_user() -> User:
    return User.register("u-1", "alice", "alice@example.com", ["member"])


def test_tenant_suspends_and_reactivates() -> None:
    tenant = Tenant.create("acme", "Acme")

    tenant.suspend("unpaid", is_platform_tenant=False)
    tenant.reactivate()

    kinds = [type(event) for event in tenant.pending_events()[1:]]
    assert kinds == [TenantSuspended, TenantReactivated]
    assert tenant.status == "active"


def test_tenant_refuses_double_suspend_and_platform_suspend() -> None:
    tenant = Tenant.create("acme", "Acme")
    tenant.suspend("", is_platform_tenant=False)

    with pytest.raises(InvalidStateError):
        tenant.suspend("", is_platform_tenant=False)
    with pytest.raises(InvalidStateError):
        Tenant.create("default", "Platform").suspend("", is_platform_tenant=True)
    with pytest.raises(InvalidStateError):
        Tenant.create("other", "Other").reactivate()


def test_tenant_rename_normalises_and_ignores_no_change() -> None:
    tenant = Tenant.create("acme", "Acme")

    tenant.rename("  Acme   Corp ")
    tenant.rename("Acme Corp")

    assert tenant.name == "Acme Corp"
    assert len(tenant.pending_events()) == 2
    with pytest.raises(InvalidInputError):
        tenant.rename("   ")


def test_user_profile_update_records_only_changes() -> None:
    user = new_user()

    unchanged = user.update_profile(username="alice")
    changed = user.update_profile(email="a@example.com", display_name=" Alice  A ")

    assert (unchanged, changed) == (False, True)
    event = user.pending_events()[-1]
    assert event == UserProfileUpdated(
        username="alice", email="a@example.com", display_name="Alice A"
    )


def test_user_roles_are_assigned_and_revoked_once() -> None:
    user = new_user()

    assert user.assign_role("editor") is True
    assert user.assign_role("editor") is False
    assert user.revoke_role("member") is True
    assert user.revoke_role("member") is False
    assert user.roles == ["editor"]


def test_user_status_changes_only_from_the_other_state() -> None:
    user = new_user()
    user.deactivate()

    with pytest.raises(InvalidStateError):
        user.deactivate()
    user.activate()
    assert user.is_active


def test_user_snapshot_round_trips() -> None:
    user = new_user()
    user.update_profile(display_name="Alice")

    restored = User.from_snapshot(user.id, user.snapshot_state() or {})

    assert restored.snapshot_state() == user.snapshot_state()


def test_role_is_defined_changed_deleted_and_defined_again() -> None:
    role = Role("viewer")
    role.define("reads", ["docs:read", "docs:read"])

    assert role.change_permissions(["docs:read"]) is False
    assert role.change_permissions(["docs:*"]) is True
    with pytest.raises(AlreadyExistsError):
        role.define("", [])
    role.delete()
    role.define("again", [])
    assert role.is_defined
    assert role.permissions == []


def test_role_refuses_built_in_names_and_bad_permissions() -> None:
    with pytest.raises(InvalidInputError):
        Role("tenant_admin").define("", [])
    with pytest.raises(InvalidInputError):
        Role("viewer").define("", ["read everything"])
    with pytest.raises(NotFoundError):
        Role("ghost").delete()


def test_service_account_cannot_change_after_deletion() -> None:
    account = ServiceAccount.create("a-1", "sync", "sa-1", ["member"])
    account.rotate_secret()
    account.delete()

    with pytest.raises(NotFoundError):
        account.rotate_secret()


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/callback",
        "https://app.example/cb#fragment",
        "/relative",
        "javascript:alert(1)",
    ],
)
def test_browser_client_refuses_unsafe_redirect_uris(uri: str) -> None:
    with pytest.raises(InvalidInputError):
        BrowserClient.register("portal", "Portal", [uri])


def test_browser_client_accepts_https_and_loopback_http() -> None:
    client = BrowserClient.register(
        "portal",
        "Portal",
        [
            "https://app.example/cb",
            "http://127.0.0.1:8080/cb",
            "https://app.example/cb",
        ],
    )

    assert client.redirect_uris == [
        "http://127.0.0.1:8080/cb",
        "https://app.example/cb",
    ]
