"""
What a request must be before the site reads it: a body no larger than the
limit, and a Host header that is a host name (or address) and a port.

- The body limit is the app's own, so a worker is safe without the reverse
  proxy too: `PAPERFEED_MAX_BODY_BYTES` (2 MiB) everywhere, and
  `PAPERFEED_MAX_UPLOAD_BYTES` (25 MiB) under the path prefixes where an
  upload is expected (`UPLOAD_PREFIXES`: the library import).  A declared
  `Content-Length` above the limit is answered 413 at once, before the body is
  read; a body without one (chunked) is counted as it streams and answered
  413 as soon as it passes the limit.  `deploy/nginx.conf.example` sets the
  same two sizes, so nginx refuses the same requests first.
- A Host header with anything but a host and a port (CR/LF, spaces, `@`, a
  port that is not a number up to 65535) is answered 400: URLs built from it
  would carry it into pages and feeds.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from paperfeed import settings
from paperfeed.web import security
from paperfeed.web.asgi import HttpMiddleware

UPLOAD_PREFIXES: tuple[str, ...] = ("/library/import",)
# a DNS name (underscores allowed: container and intranet names have them), IPv4, or [IPv6]
HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?")
TOO_LARGE = "The request is too large: at most {limit} are accepted here."


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit.

    An HTTPException, so FastAPI's form and body readers pass it on (any
    other error while reading a body becomes a 400) and the site's error
    handlers answer it with their 413 page or JSON.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, TOO_LARGE.format(limit=size_text(limit)))


def size_text(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % (size // 4) == 0:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def under(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether `path` is one of `prefixes` or below one (`/a` covers `/a/b`, not `/ab`)."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def host_ok(value: str) -> bool:
    match = HOST.fullmatch(value)
    return match is not None and (match.group(1) is None or int(match.group(1)) <= 65535)


class RequestLimits(HttpMiddleware):
    """Refuses oversized bodies (413) and malformed Host headers (400)."""

    def __init__(self, app, limit: int | None = None, upload_limit: int | None = None,
                 upload_prefixes: tuple[str, ...] = UPLOAD_PREFIXES) -> None:
        super().__init__(app)
        self.limit = limit if limit is not None else settings.value("max_body_bytes")
        self.upload_limit = upload_limit if upload_limit is not None else settings.value("max_upload_bytes")
        self.upload_prefixes = tuple(upload_prefixes)

    def limit_for(self, path: str) -> int:
        return self.upload_limit if under(path, self.upload_prefixes) else self.limit

    async def handle(self, scope, receive, send) -> None:
        headers = Headers(scope=scope)
        hosts = headers.getlist("host")
        if len(hosts) > 1 or (hosts and not host_ok(hosts[0])):
            await self.refuse(scope, receive, send, 400, "The Host header of this request is not a host name and port.")
            return
        limit = self.limit_for(scope["path"])
        declared = headers.get("content-length")
        if declared is not None:
            if not re.fullmatch(r"[0-9]+", declared.strip()):
                await self.refuse(scope, receive, send, 400, "The Content-Length header is not a number.")
                return
            if int(declared) > limit:  # refused before a byte of the body is read
                await self.refuse(scope, receive, send, 413, TOO_LARGE.format(limit=size_text(limit)))
                return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def noting_start(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, noting_start)
        except BodyTooLarge as e:  # read outside a route (no handler answered it)
            if started:
                raise
            await self.refuse(scope, receive, send, 413, e.detail)

    async def refuse(self, scope, receive, send, status: int, message: str) -> None:
        request = Request(scope, receive)
        title = security.REASONS.get(status, security.REASONS[400])[0]
        if hasattr(getattr(scope.get("app"), "state", None), "renderer"):
            # the error page may look up the signed-in user: database work, so not on the event loop
            response = await run_in_threadpool(security.error_response, request, status, title, message)
        else:  # an app without the site's renderer
            response = PlainTextResponse(message, status_code=status)
        if status == 413:
            response.headers["Connection"] = "close"  # the unread body makes the connection unusable
        await response(scope, receive, send)


def install(app) -> None:
    """Add the limits to `app` (inside the session and header middleware: its pages get both)."""
    app.add_middleware(RequestLimits)
