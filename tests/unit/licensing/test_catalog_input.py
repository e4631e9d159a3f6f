"""Catalog input: names, free text, and the terms of new policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from eaf.licensing import Policy, PolicyError, UnsafeTextError
from eaf.licensing._http_models import PolicyIn, ProductIn, ReasonIn
from eaf.licensing.domain.catalog import PolicyDefinition, Product
from eaf.licensing.domain.policy import MAX_TERMS, check_name

UNSAFE = ["\x00", "\x1b[31m", "\x7f", "\x85", "\u202a", "\u202e", "\u2066", "\u2069"]


def _locations(error: ValidationError) -> list[tuple[str | int, ...]]:
    return [item["loc"] for item in error.errors()]


@pytest.mark.parametrize("character", UNSAFE)
def test_display_name_refuses_unsafe_text(character: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ProductIn(name="orbit", display_name=f"Orbit{character}")

    assert ("display_name",) in _locations(caught.value)


@pytest.mark.parametrize("character", UNSAFE)
def test_product_refuses_unsafe_display_name(character: str) -> None:
    with pytest.raises(UnsafeTextError, match="display_name"):
        Product.create("orbit", f"Or{character}bit")


def test_reason_refuses_unsafe_text() -> None:
    with pytest.raises(ValidationError) as caught:
        ReasonIn(reason="paid\u202eton")

    assert ("reason",) in _locations(caught.value)


def test_display_name_keeps_ordinary_unicode() -> None:
    product = Product.create("orbit", "Örbit – 軌道")

    assert product.display_name == "Örbit – 軌道"


@pytest.mark.parametrize(
    "terms",
    [
        {"limits": {"machines": True}},
        {"limits": {"machines": False}},
        {"limits": {"machines": "3"}},
        {"limits": {"machines": 1.5}},
        {"limits": {"machines": -1}},
        {"duration_days": True},
        {"grace_days": True},
        {"node_locked": 1},
    ],
)
def test_policy_terms_are_strictly_typed(terms: dict[str, Any]) -> None:
    body = {"id": "orbit-std", "product": "orbit", **terms}

    with pytest.raises(ValidationError) as caught:
        PolicyIn.model_validate_json(json.dumps(body))

    assert (next(iter(terms)),) == _locations(caught.value)[0][:1]


def test_policy_accepts_zero_and_plain_counts() -> None:
    body = {"id": "orbit-std", "product": "orbit", "limits": {"users": 0, "cpu": 8}}

    policy = PolicyIn.model_validate_json(json.dumps(body))

    assert policy.limits == {"users": 0, "cpu": 8}


@pytest.mark.parametrize("field", ["limits", "entitlements"])
def test_policy_input_caps_terms(field: str) -> None:
    names = [f"t{number}" for number in range(MAX_TERMS + 1)]
    terms = dict.fromkeys(names, 1) if field == "limits" else names

    with pytest.raises(ValidationError) as caught:
        PolicyIn(id="orbit-std", product="orbit", **{field: terms})

    assert (field,) in _locations(caught.value)


@pytest.mark.parametrize("field", ["limits", "entitlements"])
def test_new_policy_definition_caps_terms(field: str) -> None:
    names = [f"t{number}" for number in range(MAX_TERMS + 1)]
    policy = (
        Policy("big", limits=dict.fromkeys(names, 1))
        if field == "limits"
        else Policy("big", entitlements=frozenset(names))
    )

    with pytest.raises(PolicyError, match=f"at most {MAX_TERMS} {field}"):
        PolicyDefinition.create(policy, Product.create("orbit"))


def test_name_message_states_the_first_character_rule() -> None:
    with pytest.raises(PolicyError) as caught:
        check_name("product", "...")

    assert "start with a-z or 0-9" in str(caught.value)
    assert check_name("product", "a...") == "a..."
