"""Oversized request bodies answered as problem+json.

FastAPI's ``max_body_size`` enforces the limit (a body read past it raises a
413 that the problem handlers render). Only a declared ``Content-Length`` over
the limit is answered by Starlette itself, as plain text; this middleware,
wrapped around the whole stack, answers that case first in the problem format.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from eaf.http.problems import PROBLEM_JSON


class DeclaredBodyLimit:
    """Refuses a request whose ``Content-Length`` exceeds ``limit`` with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.limit:
                await self._refuse(send)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send) -> None:
        detail = f"the request body is over {self.limit} bytes; send less at once"
        body = json.dumps(
            {
                "type": "urn:eaf:problem:http-413",
                "title": "Content Too Large",
                "status": 413,
                "detail": detail,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
