"""Schemathesis cases run by Hypothesis against a live site, one operation a test."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance


def cases(operation: Any, known: dict[str, str]) -> st.SearchStrategy[Any]:
    """Random paths, and valid and invalid requests on existing data."""
    names = {parameter.name for parameter in operation.path_parameters}
    fixed = {name: value for name, value in known.items() if name in names}
    return st.one_of(
        operation.as_strategy(),
        operation.as_strategy(path_parameters=fixed),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed),
    )


def check_operation(
    operation: Any,
    known: dict[str, str],
    base_url: str,
    headers: dict[str, str],
    examples: int,
) -> None:
    """No 5xx, and every answer matches the documented schema."""

    @given(case=cases(operation, known))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers=headers,
            checks=[not_a_server_error, response_schema_conformance],
        )

    check()
