"""The interactive API reference at ``/docs``, served from packaged files.

Installations without Internet access must still show the reference, so the
Swagger UI scripts, styles and icon come from a Python package, never a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/static"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI for ``app``'s OpenAPI schema, all assets local.

    The app must be created with ``docs_url=None`` and ``redoc_url=None`` so
    that FastAPI's CDN-backed pages stay off.
    """
    assets = StaticFiles(directory=str(swagger_ui_path))
    app.mount(ASSETS_PATH, assets, name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a prefix, every URL must carry it again.
        prefix = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{prefix}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{prefix}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}{ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=f"{prefix}{OAUTH2_REDIRECT_PATH}",
            # No online validator badge: it would send the schema's URL to a
            # public service from every browser that opens the page.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
