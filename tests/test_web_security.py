"""Security headers, error pages without stack traces, and database-backed rate limits."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from paperfeed.web import security
from paperfeed.web.app import create_app
from tests.webdata import client, soup


def test_headers_on_pages_errors_and_static(engine):
    c = client(engine)
    for path in ("/", "/nowhere", "/papers/date/nope", "/static/site.css", "/login"):
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert r.headers["x-frame-options"] == "DENY"


def test_no_inline_scripts_or_styles(engine):
    page = soup(client(engine).get("/"))
    for script in page.find_all("script"):
        assert script.get("src", "").startswith("/static/") and not (script.string or "").strip()
    assert not page.find_all("style") and not page.select("[style]")
    assert not page.select("[onclick], [onload], [onerror]")


def test_crash_is_a_friendly_500_without_a_trace(engine, caplog):
    app = create_app(engine)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.router.routes.insert(0, app.router.routes.pop())  # before the catch-all pages
    c = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="paperfeed.web"):
        r = c.get("/boom")
    assert r.status_code == 500
    assert "secret internals" not in r.text and "Traceback" not in r.text
    assert "Something went wrong" in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "secret internals" in caplog.text  # ... but it is logged


def test_api_errors_stay_json(engine):
    r = client(engine).get("/api/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")


def test_rate_limits_are_shared_through_the_database(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "2/60")
    # two "workers": separate counters in memory would allow 4
    assert security.hit(engine, "login", "ip:1.2.3.4", now=1000.0) == 0
    assert security.hit(engine, "login", "ip:1.2.3.4", now=1001.0) == 0
    wait = security.hit(engine, "login", "ip:1.2.3.4", now=1002.0)
    assert wait == 18  # until the window of [960, 1020) ends
    assert security.hit(engine, "login", "ip:5.6.7.8", now=1002.0) == 0  # someone else
    assert security.hit(engine, "login", "ip:1.2.3.4", now=1021.0) == 0  # next window
    security.reset_limits(engine, "login", "ip:1.2.3.4")
    assert security.hit(engine, "login", "ip:1.2.3.4", now=1022.0) == 0


def test_reset_limits_matches_exact_keys(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "2/86400")  # one window for the whole test
    for who in ("user:abc", "user:a_c:x", "user:a%", "user:a_c"):
        security.hit(engine, "login", who)
        security.hit(engine, "login", who)
    security.reset_limits(engine, "login", "user:a_c")  # `_` and `%` are no wildcards
    assert security.hit(engine, "login", "user:a_c") == 0
    for other in ("user:abc", "user:a_c:x", "user:a%"):
        assert security.hit(engine, "login", other) > 0, other


def test_ipv6_clients_share_a_bucket_per_64():
    bucket = security.address_bucket
    assert bucket("2001:db8:1:2::1") == bucket("2001:db8:1:2:ffff:1:2:3") == "2001:db8:1:2::/64"
    assert bucket("2001:db8:1:3::1") != bucket("2001:db8:1:2::1")
    assert bucket("192.0.2.1") == "192.0.2.1" and bucket("192.0.2.2") == "192.0.2.2"
    assert bucket("::ffff:192.0.2.1") == "192.0.2.1"  # IPv4-mapped: the IPv4 client
    assert bucket("testclient") == "testclient"


def test_error_pages_and_async_routes_keep_database_work_off_the_event_loop(engine):
    """An error page for a signed-in reader looks them up: in the thread pool, never on
    the event loop, where a slow query would stall every other request."""
    import asyncio

    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from paperfeed.digest import subscriptions
    from tests.webdata import csrf, sign_in

    on_loop: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread: fine
        on_loop.append(statement)

    app = create_app(engine)

    @app.get("/boom")
    def boom():
        raise RuntimeError("deliberate")

    app.router.routes.insert(0, app.router.routes.pop())
    c = TestClient(app, raise_server_exceptions=False)
    sign_in(c, engine, "reader")
    manage = subscriptions.make_token("manage", subscriptions.subscribe(engine, "r@example.org").subscriber_id,
                                      "r@example.org")
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert c.get("/nowhere").status_code == 404  # HTTPException handler
        assert c.get("/papers/date/nope").status_code in (400, 404)  # bad parameters
        assert c.post("/logout", data={"csrf_token": "forged"}).status_code == 403  # FriendlyError
        assert c.get("/preferences?token=forged").status_code == 400  # TokenError
        assert c.get("/boom").status_code == 500  # the crash handler
        assert c.post(f"/preferences?token={manage}", data={
            "frequency": "weekly", "hour": "9", "weekday": "2", "timezone": "UTC", "max_papers": "5",
            "search": ["transformers", ""],
        }).status_code == 200  # save_preferences
        assert on_loop == []
        assert c.post("/login", data={"username": "x" * (3 << 20), "csrf_token": csrf(c, "/")}).status_code == 413
        assert on_loop == []  # the body limit's own 413 page
    finally:
        event.remove(engine, "before_cursor_execute", note)
    row = subscriptions.find(engine, "r@example.org")
    assert (row.frequency, row.hour, row.weekday, row.max_papers, row.searches) == ("weekly", 9, 2, 5, ["transformers"])
