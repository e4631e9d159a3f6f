"""The HTTP application: API routers, health, metrics, docs and error handling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp

from eaf.http.docs import install_docs
from eaf.http.limits import DeclaredBodyLimit
from eaf.http.problems import install_problem_handlers, unexpected_problem
from eaf.iam.http import router as iam_router
from eaf.licensing.http import router as licensing_router
from eaf.version import eaf_revision, eaf_version

log = structlog.get_logger(__name__)

REQUESTS = Counter(
    "eaf_http_requests", "HTTP requests served", ["method", "route", "status"]
)
LATENCY = Histogram("eaf_http_request_seconds", "HTTP request latency", ["route"])

ROUTERS = {"iam": iam_router, "licensing": licensing_router}


async def _observe(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    given = request.headers.get("x-correlation-id", "")[:100]
    correlation_id = given or str(uuid.uuid4())
    # Handlers build their execution context from this, so logs, events and
    # the response header all carry the same id.
    request.state.correlation_id = correlation_id
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - answered as a problem, logged once
            log.exception("http.unhandled_error", path=request.url.path)
            response = unexpected_problem()
        route = getattr(request.scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - started
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(route).observe(elapsed)
        if route not in ("/healthz", "/readyz", "/metrics"):
            log.info(
                "http.request",
                method=request.method,
                route=route,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 1),
            )
    response.headers["X-Correlation-Id"] = correlation_id
    return response


DEFAULT_BODY_LIMIT = 1024 * 1024


class _App(FastAPI):
    """FastAPI with oversized declared bodies answered as problem+json."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.max_body_size is None:
            return stack
        return DeclaredBodyLimit(stack, self.max_body_size)


def create_app(platform: Any, services: Collection[str] | None = None) -> FastAPI:
    """The FastAPI app for ``platform`` (a started or starting Platform).

    ``services`` names the APIs to serve (keys of ``ROUTERS``); all by default.
    """
    settings = getattr(platform, "settings", None)
    body_limit = getattr(settings, "http_max_body_bytes", DEFAULT_BODY_LIMIT)
    app = _App(
        title="EAF",
        # Bodies over the limit get 413 before they are parsed.
        max_body_size=body_limit,
        version=eaf_version(),
        description="Event-sourced, multi-tenant application platform.",
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.state.platform = platform
    # Lets routes use eaf.security's requires_permission and friends.
    app.state.token_verifier = getattr(platform, "verifier", None)
    install_problem_handlers(app)
    app.middleware("http")(_observe)
    for name in ROUTERS if services is None else services:
        app.include_router(ROUTERS[name])

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["operations"], summary="Readiness of every dependency")
    async def readyz() -> JSONResponse:
        checks = await platform.readiness()
        is_ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if is_ready else "not-ready", "checks": checks},
            status_code=200 if is_ready else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/version", tags=["operations"], summary="The served version")
    async def served_version() -> dict[str, str]:
        return {"version": eaf_version(), "revision": eaf_revision()}

    return app
