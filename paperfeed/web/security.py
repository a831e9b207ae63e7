"""
What keeps the site safe to expose: response headers, rate limits, error pages.

- Every response carries a Content-Security-Policy that allows only our own
  scripts, styles and fonts (no inline script or style: KaTeX sets styles
  through the DOM, which CSP permits, and htmx's inline indicator styles are
  switched off in base.html), forbids framing and plugins, and limits forms to
  this origin; plus `X-Content-Type-Options`, `Referrer-Policy`,
  `X-Frame-Options` and a restrictive `Permissions-Policy`.
- Rate limits are fixed-window counters in the database (`rate_limits` table),
  so every worker process of a deployment shares them.
- No stack trace ever reaches a visitor: unknown pages, bad parameters and
  crashes render friendly pages (JSON under `/api/`), and crashes are logged.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import settings
from paperfeed.models import RateLimit
from paperfeed.web.asgi import HttpMiddleware
from paperfeed.web.templating import render

log = logging.getLogger("paperfeed.web")
limits = RateLimit.__table__

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
REASONS = {
    400: ("Bad request", "Something in the address is not what this page expects."),
    403: ("Not allowed", "You do not have permission to do that."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Not allowed", "That method is not supported here."),
    413: ("Too large", "The request is larger than this site accepts."),
    429: ("Slow down", "Too many requests in a short time. Please wait a little and try again."),
    500: ("Something went wrong", "The error has been logged. Please try again later."),
}


class SecurityHeaders(HttpMiddleware):
    """Adds `HEADERS` to every response that does not set them itself."""

    async def handle(self, scope, receive, send) -> None:
        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class FriendlyError(Exception):
    """An error to show the visitor as a page with this status and message."""

    def __init__(self, status: int, message: str | None = None, title: str | None = None):
        super().__init__(message)
        self.status = status
        self.title = title or REASONS.get(status, REASONS[400])[0]
        self.message = message or REASONS.get(status, REASONS[400])[1]


class RateLimited(FriendlyError):
    def __init__(self, retry_after: int):
        super().__init__(429)
        self.retry_after = retry_after


# -- rate limits --------------------------------------------------------------


def parse_limit(name: str) -> tuple[int, int]:
    """A `rate_limit_*` setting, "COUNT/SECONDS", as (count, seconds)."""
    return settings.value(f"rate_limit_{name}")


def hit(engine: Engine, name: str, who: str, now: float | None = None) -> int:
    """Count one request by `who` against limit `name`; returns seconds to wait (0: allowed)."""
    allowed, window = parse_limit(name)
    now = time.time() if now is None else now
    index = int(now // window)
    key = f"{name}:{who}:{index}"[:200]
    expires = datetime.fromtimestamp((index + 1) * window, UTC)
    bump = update(limits).where(limits.c.key == key).values(count=limits.c.count + 1)
    for _ in range(2):
        try:
            with engine.begin() as conn:
                if conn.execute(bump).rowcount == 0:
                    # a new window: clear finished windows first, so the table stays small
                    conn.execute(delete(limits).where(limits.c.expires_at < datetime.now(UTC)))
                    conn.execute(insert(limits).values(key=key, count=1, expires_at=expires))
                count = conn.execute(select(limits.c.count).where(limits.c.key == key)).scalar_one()
            break
        except IntegrityError:  # another worker inserted the same window first: bump theirs
            continue
    else:
        return 0  # never refuse a request because the counter itself failed twice
    if count > allowed:
        return max(int((index + 1) * window - now), 1)
    return 0


def enforce(engine: Engine, name: str, who: str) -> None:
    """Raise `RateLimited` (a 429 page) when `who` is over limit `name`."""
    wait = hit(engine, name, who)
    if wait:
        raise RateLimited(wait)


def reset_limits(engine: Engine, name: str, who: str) -> None:
    """Forget `who`'s counts for `name` (after a successful login, for instance)."""
    with engine.begin() as conn:
        conn.execute(delete(limits).where(limits.c.key.like(f"{name}:{who}:%")))


def client_address(request: Request) -> str:
    # uvicorn rewrites request.client from X-Forwarded-For only for trusted proxies
    return request.client.host if request.client else "unknown"


# -- error pages --------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, status: int, title: str, message: str, headers=None) -> Response:
    # crash pages are sent from outside every middleware, so they carry the headers themselves
    headers = {**HEADERS, **(headers or {})}
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status=status,
        headers=headers,
    )


def install(app: FastAPI) -> None:
    """Add the security headers and the friendly error handlers to `app`.

    The handlers are plain functions, which Starlette runs in its thread pool:
    an error page looks up the signed-in user, and that database call must not
    block the event loop (and every other request with it).
    """
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(FriendlyError)
    def friendly(request: Request, exc: FriendlyError) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return error_response(request, exc.status, exc.title, exc.message, headers)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title, message = REASONS.get(exc.status_code, (str(exc.status_code), "That did not work."))
        if exc.status_code != 404 and isinstance(exc.detail, str) and exc.detail and exc.status_code < 500:
            message = exc.detail
        return error_response(request, exc.status_code, title, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        names = sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()})
        return error_response(
            request, 400, "Bad request", f"Check these parameters: {', '.join(names)}."
        )

    @app.exception_handler(Exception)
    def crash(request: Request, exc: Exception) -> Response:
        # exc_info from the argument: in the thread pool, sys.exc_info() no longer holds it
        log.error("error serving %s %s", request.method, request.url.path, exc_info=exc)
        title, message = REASONS[500]
        return error_response(request, 500, title, message)
