"""What a request must be before the site reads it: bodies within the limit
(413 at once for a declared length, as it streams otherwise; a larger limit
under the upload prefixes) and a Host header that is a host and a port."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from paperfeed.web import request_limits
from paperfeed.web.app import create_app
from tests.server import serve
from tests.webdata import client, csrf

MB = 1 << 20


def test_a_10_mb_form_is_refused_with_413(engine):
    c = client(engine)
    token = csrf(c)
    for path in ("/login", "/subscribe", "/vote", "/preferences?token=x", "/nowhere"):
        r = c.post(path, data={"username": "x" * (10 * MB), "csrf_token": token})
        assert r.status_code == 413, path
        assert "Too large" in r.text and "2 MiB" in r.text and "Traceback" not in r.text
        assert r.headers["content-security-policy"]  # the site's own error page, with its headers
    r = c.post("/api/daily_papers", content=b"x" * (3 * MB))
    assert r.status_code == 413 and r.json() == {"error": "The request is too large: at most 2 MiB are accepted here."}
    assert c.post("/login", data={"username": "x" * MB, "csrf_token": token}).status_code == 400  # within: read


def chunks(total: int, size: int = 64 << 10):
    sent = 0
    while sent < total:
        yield b"a" * min(size, total - sent)
        sent += size


def test_a_chunked_body_is_counted_as_it_streams(engine):
    c = client(engine)
    r = c.post("/login", content=chunks(3 * MB), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.request.headers["transfer-encoding"] == "chunked" and "content-length" not in r.request.headers
    assert r.status_code == 413 and "Too large" in r.text


def asgi_call(app, path: str, headers: list[tuple[bytes, bytes]], body_parts: list[bytes]) -> tuple[int, int]:
    """(status, body chunks the app pulled) for a raw ASGI request."""
    pulled = 0

    async def receive():
        nonlocal pulled
        if pulled < len(body_parts):
            pulled += 1
            return {"type": "http.request", "body": body_parts[pulled - 1], "more_body": pulled < len(body_parts)}
        return {"type": "http.disconnect"}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    # in a thread of its own: earlier tests (Playwright) may leave an event loop running in this one
    worker = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    worker.start()
    worker.join(30)
    return sent[0]["status"], pulled


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(engine):
    app = create_app(engine)
    parts = [b"a" * MB] * 4
    status, pulled = asgi_call(app, "/login", [(b"host", b"testserver"), (b"content-length", str(4 * MB).encode()),
                                               (b"content-type", b"application/x-www-form-urlencoded")], parts)
    assert (status, pulled) == (413, 0)
    status, pulled = asgi_call(app, "/login", [(b"host", b"testserver"), (b"content-length", b"12x")], [b""])
    assert status == 400


def upload_app(**limits) -> FastAPI:
    app = FastAPI()

    @app.post("/{path:path}")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    app.add_middleware(request_limits.RequestLimits, **limits)
    return app


def test_upload_prefixes_get_the_larger_limit(engine, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("PAPERFEED_MAX_BODY_BYTES", str(100_000))
    monkeypatch.setenv("PAPERFEED_MAX_UPLOAD_BYTES", str(1_000_000))
    c = TestClient(upload_app(), raise_server_exceptions=False)
    assert c.post("/library/import", content=b"x" * 900_000).text == "900000"
    assert c.post("/library/import/bibtex", content=chunks(900_000)).text == "900000"
    assert c.post("/library/import", content=b"x" * 1_000_001).status_code == 413
    assert c.post("/library/import", content=chunks(1_000_001)).status_code == 413
    assert c.post("/library/importer", content=b"x" * 100_001).status_code == 413  # a prefix is a path, not text
    assert c.post("/library", content=b"x" * 100_001).status_code == 413
    assert c.post("/library", content=b"x" * 100_000).text == "100000"
    c = TestClient(upload_app(limit=10, upload_limit=20, upload_prefixes=("/in",)), raise_server_exceptions=False)
    assert c.post("/in/x", content=b"x" * 20).text == "20" and c.post("/out", content=b"x" * 11).status_code == 413


def test_the_sizes_are_settings(monkeypatch, engine):
    from paperfeed import settings

    assert settings.value("max_body_bytes") == 2 * MB and settings.value("max_upload_bytes") == 25 * MB
    monkeypatch.setenv("PAPERFEED_MAX_BODY_BYTES", "lots")
    with pytest.raises(settings.SettingError, match="PAPERFEED_MAX_BODY_BYTES"):
        create_app(engine)


@pytest.mark.parametrize("host", [
    b"attacker.test:8000\r\nX-Injected: 1", b"attacker.test:8000\r\n", b"attacker.test:8000\n", b"attacker.test\r",
    b"attacker.test:abc", b"attacker.test:99999", b"attacker.test:80:80", b"user@attacker.test", b"atta cker.test",
    b"attacker.test/path", b"[::1", b"",
])
def test_a_malformed_host_is_a_400(engine, host):
    c = client(engine)
    for path in ("/", "/feeds/daily.atom", "/api/daily_papers", "/subscribe"):
        r = c.request("POST" if path == "/subscribe" else "GET", path, headers={"Host": host.decode("latin-1")})
        assert r.status_code == 400, (host, path)
        assert "Host header" in r.text
        assert "attacker" not in r.text and "X-Injected" not in r.text


def test_good_hosts_pass(engine):
    c = client(engine)
    for host in ("example.org", "example.org:8000", "127.0.0.1:8000", "[::1]:8000", "paper_feed:8000", "localhost"):
        assert c.get("/", headers={"Host": host}).status_code == 200, host


def raw_request(base: str, data: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            got = s.recv(65536)
            if not got:
                break
            answer += got
    return answer


def test_a_real_server_answers_bad_hosts_and_big_bodies_with_4xx(engine):
    with serve(create_app(engine)) as base:
        answer = raw_request(base, b"GET / HTTP/1.1\r\nHost: example.org:8000\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        answer = raw_request(base, b"GET / HTTP/1.1\r\nHost: example.org:8000\rX: y\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
        answer = raw_request(base, b"GET / HTTP/1.1\r\nHost: example.org:abc\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
        answer = raw_request(base, b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                                   b"application/x-www-form-urlencoded\r\nContent-Length: 10485760\r\n\r\nusername=")
        assert answer.startswith(b"HTTP/1.1 413")


def nginx_sizes() -> tuple[dict[str, int], dict[str, int]]:
    """`client_max_body_size` and `proxy_read_timeout` in deploy/nginx.conf.example, by location ("" for server)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf.example").read_text()
    sizes: dict[str, int] = {}
    timeouts: dict[str, int] = {}
    where = ""
    units = {"": 1, "k": 1 << 10, "m": MB, "g": 1 << 30}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.match(r"location\s+(?:=\s+)?(\S+)\s*\{", line):
            where = m[1]
        elif line == "}":
            where = ""
        elif m := re.match(r"client_max_body_size\s+(\d+)([kmg]?);", line, re.IGNORECASE):
            sizes[where] = int(m[1]) * units[m[2].lower()]
        elif m := re.match(r"proxy_read_timeout\s+(\d+)s;", line):
            timeouts[where] = int(m[1])
    return sizes, timeouts


def test_the_nginx_example_matches_the_apps_limits():
    """nginx must refuse what the app refuses, and wait longer than the app's own slowest call."""
    from paperfeed import settings
    from paperfeed.web import submissions

    sizes, timeouts = nginx_sizes()
    assert sizes.pop("") == settings.value("max_body_bytes")
    assert sizes == {prefix: settings.value("max_upload_bytes") for prefix in request_limits.UPLOAD_PREFIXES}
    assert timeouts[""] > submissions.ARXIV_TIMEOUT + submissions.ARXIV_TURN_WAIT  # /submit's one arXiv call
    assert all(timeouts.get(prefix, 0) >= timeouts[""] for prefix in request_limits.UPLOAD_PREFIXES)
