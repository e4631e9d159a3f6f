"""RFC 9457 problem details for every error the API answers with."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from eaf.errors import DomainError, InfrastructureError
from eaf.eventstore.errors import ConcurrencyError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details: how every error of the API is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


_STATUS_TEXT = {
    400: "Malformed request",
    401: "Missing or invalid access token",
    403: "Not allowed for this caller",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Invalid input",
    503: "A dependency is unavailable",
}


def problem_responses(
    *statuses: int,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem answers for ``statuses``."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "model": Problem,
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses or tuple(_STATUS_TEXT)
    }


def problem(
    status: int, title: str, detail: str, code: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:eaf:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "location": ".".join(str(part) for part in error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    if any(error["type"] == "json_invalid" for error in errors):
        return problem(
            400,
            "Malformed JSON",
            "the request body is not valid JSON",
            "malformed-json",
        )
    return problem(
        422,
        "Invalid request",
        "the request does not match the schema; see errors",
        "invalid-request",
        errors=errors,
    )


def _domain_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    extra = {key: value for key, value in exc.context.items() if isinstance(value, str)}
    title = exc.code.replace("-", " ").capitalize()
    response = problem(exc.status, title, exc.detail, exc.code, **extra)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _conflict_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConcurrencyError)
    return problem(
        409,
        "Concurrent change",
        str(exc),
        "concurrency-conflict",
        expected_version=exc.expected_version,
        actual_version=exc.actual_version,
    )


def _http_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = problem(
        exc.status_code, str(exc.detail), str(exc.detail), f"http-{exc.status_code}"
    )
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def _unavailable_problem(request: Request, exc: Exception) -> JSONResponse:
    log.warning("http.dependency_unavailable", error=str(exc))
    return problem(
        503,
        "Service unavailable",
        "a server the platform depends on is unavailable; retry shortly",
        "unavailable",
    )


def unexpected_problem() -> JSONResponse:
    """The answer to a failure nobody anticipated; details stay in the log."""
    return problem(
        500,
        "Internal error",
        "the server failed to handle the request; the error was logged with this "
        "request's correlation id",
        "internal-error",
    )


def _unexpected_problem(request: Request, exc: Exception) -> JSONResponse:
    log.exception("http.unhandled_error", path=request.url.path)
    return unexpected_problem()


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(DomainError, _domain_problem)
    app.add_exception_handler(ConcurrencyError, _conflict_problem)
    app.add_exception_handler(HTTPException, _http_problem)
    app.add_exception_handler(InfrastructureError, _unavailable_problem)
    app.add_exception_handler(Exception, _unexpected_problem)
