"""
What keeps the site safe to expose: response headers, rate limits, error pages.

- Every response carries a Content-Security-Policy that allows only our own
  scripts, styles and fonts (no inline script or style: KaTeX sets styles
  through the DOM, which CSP permits, and htmx's inline indicator styles are
  switched off in base.html), forbids framing and plugins, and limits forms to
  this origin; plus `X-Content-Type-Options`, `Referrer-Policy`,
  `X-Frame-Options` and a restrictive `Permissions-Policy`.
- Rate limits are fixed-window counters in the database (`rate_limits` table),
  so every worker process of a deployment shares them.  A client is counted
  by its address, an IPv6 client by its /64 (one host is handed a whole /64
  and may rotate through it).
- No stack trace ever reaches a visitor: unknown pages, bad parameters and
  crashes render friendly pages (JSON under `/api/`), and crashes are logged.
"""

from __future__ import annotations

import hashlib
import ipaddress
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
from starlette.routing import Match

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


def _key(name: str, who: str, index: int | None = None) -> str:
    """The counter's row key, `NAME:WHO:WINDOW` (WHO hashed where the key would be too long)."""
    if len(name) + len(who) > 160:
        who = "sha256-" + hashlib.sha256(who.encode()).hexdigest()
    return f"{name}:{who}:" + ("" if index is None else str(index))


def count(engine: Engine, name: str, who: str, now: float | None = None, by: int = 1) -> tuple[int, int]:
    """Add `by` to `who`'s count in the current window of limit `name`.

    Returns the count after that and the seconds until the window ends.  A
    negative `by` gives back an earlier count (never below zero, never a new row).
    """
    _, window = parse_limit(name)
    now = time.time() if now is None else now
    index = int(now // window)
    key = _key(name, who, index)
    expires = datetime.fromtimestamp((index + 1) * window, UTC)
    left = max(int((index + 1) * window - now), 1)
    bump = update(limits).where(limits.c.key == key)
    bump = bump.values(count=limits.c.count + by) if by >= 0 else bump.where(limits.c.count > 0).values(count=limits.c.count + by)
    for _ in range(2):
        try:
            with engine.begin() as conn:
                if conn.execute(bump).rowcount == 0 and by > 0:
                    # a new window: clear finished windows first, so the table stays small
                    conn.execute(delete(limits).where(limits.c.expires_at < datetime.now(UTC)))
                    conn.execute(insert(limits).values(key=key, count=by, expires_at=expires))
                found = conn.execute(select(limits.c.count).where(limits.c.key == key)).scalar()
            return found or 0, left
        except IntegrityError:  # another worker inserted the same window first: bump theirs
            continue
    return 0, left  # never refuse a request because the counter itself failed twice


def hit(engine: Engine, name: str, who: str, now: float | None = None) -> int:
    """Count one request by `who` against limit `name`; returns seconds to wait (0: allowed)."""
    allowed, _ = parse_limit(name)
    counted, left = count(engine, name, who, now)
    return left if counted > allowed else 0


def enforce(engine: Engine, name: str, who: str) -> None:
    """Raise `RateLimited` (a 429 page) when `who` is over limit `name`."""
    wait = hit(engine, name, who)
    if wait:
        raise RateLimited(wait)


def reset_limits(engine: Engine, name: str, who: str) -> None:
    """Forget `who`'s counts for `name` (after a successful login, for instance).

    Only `who`'s own keys: a prefix match escapes `%` and `_`, and the rest of
    the key must be the window number, so `user:a_c` leaves `user:abc` and
    `user:a_c:x` alone.
    """
    prefix = _key(name, who)
    with engine.begin() as conn:
        found = conn.scalars(select(limits.c.key).where(limits.c.key.startswith(prefix, autoescape=True)))
        mine = [key for key in found if key[len(prefix):].isdigit()]
        if mine:
            conn.execute(delete(limits).where(limits.c.key.in_(mine)))


def client_address(request: Request) -> str:
    # uvicorn rewrites request.client from X-Forwarded-For only for trusted proxies
    return request.client.host if request.client else "unknown"


def client_bucket(request: Request) -> str:
    """Who a per-client rate limit counts: an IPv4 address, or an IPv6 client's /64."""
    return address_bucket(client_address(request))


def address_bucket(address: str) -> str:
    """`address` as a rate-limit key: IPv4 as it is, IPv6 as its /64 (an IPv4-mapped one as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address  # "unknown", a test client's name: count it as it is
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# -- error pages --------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    # the API's address space, as /api/openapi.json documents it: errors there are JSON,
    # those the router answers itself (a path no route matches, such as an id with a newline) too
    path = request.url.path
    return path.startswith(("/api/", "/feeds/")) or (path.startswith("/papers/") and path.endswith(".md"))


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


def _described(error: dict) -> str:
    """A parameter's name, with its bound when it broke one: `p (at most 50)`."""
    name = str(error.get("loc", ["", "?"])[-1])
    ctx = error.get("ctx") or {}
    if "le" in ctx:
        return f"{name} (at most {ctx['le']})"
    if "ge" in ctx:
        return f"{name} (at least {ctx['ge']})"
    return name


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route of the app answers at this path, for a 405's `Allow`.

    Starlette names only the methods of the first route that matched the path,
    while one path is often several routes (GET and POST of a collection), so
    each method is tried against every route (included routers too)."""
    allowed = []
    for method in METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


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
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return error_response(request, exc.status_code, title, message, headers)

    @app.exception_handler(RequestValidationError)
    def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        names = sorted({_described(e) for e in exc.errors()})
        return error_response(
            request, 400, "Bad request", f"Check these parameters: {', '.join(names)}."
        )

    @app.exception_handler(Exception)
    def crash(request: Request, exc: Exception) -> Response:
        # exc_info from the argument: in the thread pool, sys.exc_info() no longer holds it
        log.error("error serving %s %s", request.method, request.url.path, exc_info=exc)
        title, message = REASONS[500]
        return error_response(request, 500, title, message)
