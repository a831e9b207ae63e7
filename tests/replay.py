"""
A real local HTTP server that replays recorded responses, for testing live sources.

Live ingestion (arXiv API paging, OAI-PMH harvests) is tested against this
server rather than by mocking httpx, so the real client code — retries,
Retry-After, timeouts, query encoding — runs over a real socket.  A
`ThreadingHTTPServer` listens on 127.0.0.1 at a random port in a background
thread; a route table maps a path plus the query parameters a request must
carry to a recorded file (or body) and status; a route can answer 503 with
`Retry-After` to its first N requests, fail for good, or answer only after a
delay (a slow source); every request is recorded for the test to check.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Route:
    path: str
    query: dict[str, str]  # parameters a request must carry (a subset match)
    body: bytes
    status: int = 200
    content_type: str = "application/xml; charset=utf-8"
    busy_first: int = 0  # answer this many requests with 503 + Retry-After first
    retry_after: str = "0"
    fail_always: bool = False  # answer 500 forever (a source that went away)
    delay: float = 0.0  # seconds to wait before answering (a slow source)
    hits: int = 0


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class ReplayServer:
    routes: list[Route] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def add(
        self,
        path: str,
        fixture: str | None = None,
        *,
        body: bytes | None = None,
        query: dict[str, str] | None = None,
        **options,
    ) -> Route:
        """Serve `fixture` (a path under tests/fixtures) or `body` at `path` (+ `query`)."""
        if body is None:
            body = (FIXTURES / fixture).read_bytes() if fixture else b""
        route = Route(path, dict(query or {}), body, **options)
        self.routes.append(route)
        return route

    def url(self, path: str = "/") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def match(self, path: str, query: dict[str, str]) -> Route | None:
        """The most specific route (most required parameters) that this request satisfies."""
        fitting = [
            r
            for r in self.routes
            if r.path == path and all(query.get(k) == v for k, v in r.query.items())
        ]
        return max(fitting, key=lambda r: len(r.query), default=None)

    def __enter__(self) -> ReplayServer:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                replay.requests.append(Request(parts.path, query, dict(self.headers.items())))
                route = replay.match(parts.path, query)
                if route is None:
                    self._send(404, b"no route", "text/plain")
                    return
                route.hits += 1
                if route.delay:
                    time.sleep(route.delay)
                if route.fail_always:
                    self._send(500, b"server error", "text/plain")
                elif route.hits <= route.busy_first:
                    self._send(503, b"busy", "text/plain", {"Retry-After": route.retry_after})
                else:
                    self._send(route.status, route.body, route.content_type)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
