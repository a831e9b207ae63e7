"""
A short-lived cache of the pages every anonymous visitor sees alike: the daily
lists (day, week, month) and trending (issue #4: the daily page under load).

Pure ASGI middleware, inside the session and security-header middleware, so a
cached page still gets its security headers and a new visitor still gets a
session cookie.  What it does:

- Only GET requests of visitors who are not signed in (no user id in the
  session) are looked up or stored; a signed-in reader always gets a fresh page
  with their own upvotes and curator buttons.
- A page is stored only when its handler called `shareable(request)`, it
  answered 200, and its query has no parameters other than `CACHE_PARAMS` (so
  made-up parameters cannot push the real pages out).  Keyed by path and query.
- The only per-visitor part of an anonymous page is the CSRF token in its forms:
  it is stored as a placeholder and each visitor's own token is put back when
  the page is served.  So a page that calls `shareable` must depend on nothing
  else about the request than its path and query: not on the Host header
  (absolute links), other headers or the session.
- Entries live `page_cache_seconds` (default 5; 0 turns the cache off).  An
  upvote, a submission or a curator's action calls `invalidate()`, which drops
  every entry in this worker and, by touching a stamp file in the data
  directory, in the other workers on this machine.  Other writers (ingest, the
  HF daily import, a second machine) show up when entries expire.
- When an entry expires, one request renders the page again while the others
  get the expired copy; after an invalidation, concurrent requests for the same
  page wait for one render instead of all rendering it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import Request

from paperfeed import settings
from paperfeed.web.asgi import HttpMiddleware

CACHE_PARAMS = {"sort", "p", "days"}  # the listing pages' own query parameters
MAX_ENTRIES = 200  # ~85 KB each
STAMP = "page-cache.stamp"
_local_generation = 0  # bumped by invalidate(): this process needs no stat() to see its own writes


def shareable(request: Request) -> None:
    """Mark this response as the same for every anonymous visitor (so it may be cached)."""
    request.state.page_shareable = True


def stamp_path() -> Path:
    return settings.data_dir() / STAMP


def invalidate() -> None:
    """Forget every cached page, in every worker of this machine (call after a write that lists show)."""
    global _local_generation
    _local_generation += 1
    path = stamp_path()
    try:
        path.touch()
        now = time.time_ns()
        os.utime(path, ns=(now, now))
    except OSError:  # a read-only data directory: other workers see the change when entries expire
        pass


@dataclass
class Entry:  # of a 200 response: only those are kept
    headers: list[tuple[bytes, bytes]]  # without content-length
    body: bytes  # with MARKER where the CSRF token was
    route: object  # the matched route, for the request metrics
    generation: tuple
    expires: float


class PageStore:
    """The cached pages of one app; `clock` is replaceable for tests."""

    def __init__(self, seconds: float, stamp: Path, max_entries: int = MAX_ENTRIES, clock=time.monotonic):
        self.seconds = seconds
        self.stamp = stamp
        self.max_entries = max_entries
        self.clock = clock
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.filling: dict[str, asyncio.Future] = {}
        self.marker = ("csrf-placeholder-" + secrets.token_hex(13)).encode()

    def generation(self) -> tuple:
        try:
            return (_local_generation, os.stat(self.stamp).st_mtime_ns)
        except OSError:
            return (_local_generation, None)

    def put(self, key: str, entry: Entry) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

def cache_key(scope: dict) -> str | None:
    """The key of a request that may be served from the cache, or None."""
    if scope["method"] != "GET":
        return None
    query = scope.get("query_string", b"").decode("latin-1")
    if query and any(name not in CACHE_PARAMS for name, _ in parse_qsl(query, keep_blank_values=True)):
        return None
    return scope["path"] + ("?" + query if query else "")


class PageCache(HttpMiddleware):
    """The middleware: serves and stores shareable pages for anonymous visitors."""

    def __init__(self, app, store: PageStore) -> None:
        super().__init__(app)
        self.store = store

    async def handle(self, scope, receive, send) -> None:
        store = self.store
        state = scope.setdefault("state", {})
        session = state.get("session") or {}
        key = cache_key(scope)
        if key is None or "u" in session or not isinstance(session.get("c"), str):
            await self.app(scope, receive, send)
            return
        token = session["c"].encode()
        generation = store.generation()
        entry = store.entries.get(key)
        if entry is not None:
            current = entry.generation == generation
            if current and (store.clock() < entry.expires or key in store.filling):
                await self.serve(key, entry, token, scope, send)  # fresh, or expired while being renewed
                return
            if key in store.filling:  # invalidated and being rendered: wait for that render
                await asyncio.shield(store.filling[key])
                generation = store.generation()
                entry = store.entries.get(key)
                if entry is not None and entry.generation == generation:
                    await self.serve(key, entry, token, scope, send)
                    return
        await self.fill(key, token, generation, scope, receive, send)

    async def serve(self, key: str, entry: Entry, token: bytes, scope, send) -> None:
        self.store.entries.move_to_end(key)
        scope["route"] = entry.route
        body = entry.body.replace(self.store.marker, token)
        headers = [*entry.headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def fill(self, key: str, token: bytes, generation: tuple, scope, receive, send) -> None:
        """Run the app for this request, keeping its response if it is shareable."""
        store = self.store
        renewing = key in store.entries and key not in store.filling
        if renewing:
            store.filling[key] = asyncio.get_running_loop().create_future()
        started: list | None = None  # the response's own headers, when it is kept
        chunks: list[bytes] = []

        async def capture(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if (message["status"] == 200 and scope["state"].get("page_shareable")
                        and not any(name.lower() == b"set-cookie" for name, _ in headers)):
                    # a copy: the outer middleware add the visitor's cookie and headers to this list
                    started = list(headers)
            elif started is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
            if started is not None:
                headers = [(n, v) for n, v in started if n.lower() != b"content-length"]
                body = b"".join(chunks).replace(token, store.marker)
                store.put(key, Entry(headers, body, scope.get("route"), generation, store.clock() + store.seconds))
        finally:
            if renewing:
                store.filling.pop(key).set_result(None)


def install(app) -> PageStore:
    """Add the page cache to `app` (before the session and header middleware: it runs inside them)."""
    store = PageStore(settings.get_float("page_cache_seconds"), stamp_path())
    app.state.page_cache = store
    if store.seconds > 0:  # 0 turns the cache off
        app.add_middleware(PageCache, store=store)
    return store
