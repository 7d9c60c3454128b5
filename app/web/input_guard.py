"""Refuse URLs carrying NUL bytes before any route runs: PostgreSQL text cannot hold U+0000, so such a
path or query value would otherwise surface as a database error (500) instead of a client error."""

from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

DETAIL = "NUL bytes are not allowed in URLs"


class RejectNulMiddleware:
    """Pure ASGI middleware answering 400 to a request whose path or query string holds a NUL byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            json = scope["path"].startswith("/api/")
            response = JSONResponse({"detail": DETAIL}, 400) if json else PlainTextResponse(DETAIL, 400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    # The path arrives percent-decoded; the query string raw (decoded later, per parameter).
    return "\x00" in scope.get("path", "") or b"\x00" in query or b"%00" in query
