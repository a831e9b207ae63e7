"""The shape every paperfeed middleware shares: plain ASGI, HTTP requests only."""

from __future__ import annotations


class HttpMiddleware:
    """Pure ASGI middleware (no response buffering, unlike Starlette's
    `BaseHTTPMiddleware`): other scopes (lifespan) pass straight through, HTTP
    requests go to `handle`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        raise NotImplementedError
