"""The page cache (paperfeed/web/pagecache.py): anonymous visitors share a rendered
daily list, but never a session, a CSRF token or a signed-in reader's page, and
upvotes, submissions and curators' changes show at once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from paperfeed.web import accounts, metrics
from paperfeed.web.app import create_app
from paperfeed.web.security import HEADERS
from tests.webdata import add_paper, add_vote, sign_in, soup

DAY = date(2026, 9, 28)
PAGE = f"/papers/date/{DAY}"


@pytest.fixture
def app(engine):
    add_paper(engine, "2609.00001", "Popular on Monday", day=DAY, upvotes=5)
    add_paper(engine, "2609.00002", "Quiet on Monday", day=DAY, upvotes=1)
    return create_app(engine)


def visitor(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def votes_shown(response) -> dict[str, str]:
    return {
        form.select_one('input[name="arxiv_id"]')["value"]: form.select_one(".vote-count").get_text()
        for form in soup(response).select(".card form.vote")
    }


def tokens(response) -> set[str]:
    return {i["value"] for i in soup(response).select('input[name="csrf_token"]')}


def test_visitors_share_the_page_but_not_the_session(app, engine):
    first, second = visitor(app), visitor(app)
    a = first.get(PAGE)
    uid = accounts.create_user(engine, "bob", "long enough")
    add_vote(engine, uid, "2609.00001")  # straight to the database: not seen until the cache expires
    b = second.get(PAGE)
    assert votes_shown(a) == votes_shown(b) == {"2609.00001": "5", "2609.00002": "1"}  # b came from the cache
    assert PAGE in app.state.page_cache.entries
    # each visitor has their own session cookie, and their own token in every form
    assert len(b.headers.get_list("set-cookie")) == 1
    assert a.cookies["paperfeed_session"] != b.cookies["paperfeed_session"]
    assert len(tokens(a)) == len(tokens(b)) == 1 and tokens(a) != tokens(b)
    assert app.state.page_cache.marker.decode() not in b.text
    for name, value in HEADERS.items():
        assert b.headers[name] == value
    assert int(b.headers["content-length"]) == len(b.content)
    # the cached page's token works: it is the second visitor's own
    r = second.post("/subscribe", data={"email": "x@example.org", "csrf_token": tokens(b).pop()})
    assert r.status_code != 403


def test_returning_visitor_gets_their_token_and_no_new_cookie(app):
    v = visitor(app)
    first = v.get(PAGE)
    again = v.get(PAGE)
    assert tokens(first) == tokens(again)
    assert "set-cookie" not in again.headers


def test_an_upvote_shows_at_once(app, engine):
    anonymous, reader = visitor(app), visitor(app)
    assert votes_shown(anonymous.get(PAGE))["2609.00001"] == "5"
    sign_in(reader, engine, "reader")
    token = tokens(reader.get(PAGE)).pop()
    r = reader.post("/vote", data={"arxiv_id": "2609.00001", "csrf_token": token, "next": PAGE})
    assert r.status_code == 200
    assert votes_shown(anonymous.get(PAGE))["2609.00001"] == "6"


def test_signed_in_readers_never_get_the_shared_page(app, engine):
    anonymous, reader = visitor(app), visitor(app)
    anonymous.get(PAGE)  # cached
    uid = sign_in(reader, engine, "reader")
    add_vote(engine, uid, "2609.00002")  # straight to the database
    page = soup(reader.get(PAGE))
    assert page.select_one(".who").get_text(strip=True) == "reader"
    voted = page.select_one("#paper-2609\\.00002 .vote-button")
    assert "voted" in voted["class"] and voted.select_one(".vote-count").get_text() == "2"
    # ...and their page is not stored for others
    again = soup(anonymous.get(PAGE))
    assert again.select_one(".who") is None and not again.select(".vote-button.voted")


def test_curators_changes_show_at_once(app, engine):
    anonymous, curator = visitor(app), visitor(app)
    assert len(soup(anonymous.get(PAGE)).select(".card")) == 2
    sign_in(curator, engine, "cura", role="curator")
    page = soup(curator.get(PAGE))
    form = page.select_one("#paper-2609\\.00002 form.curate")
    r = curator.post("/curate", data={"entry_id": form.select_one('input[name="entry_id"]')["value"],
                                      "action": "hide", "csrf_token": tokens(curator.get(PAGE)).pop(),
                                      "next": PAGE}, follow_redirects=False)
    assert r.status_code == 303
    assert [a["id"] for a in soup(anonymous.get(PAGE)).select(".card")] == ["paper-2609.00001"]


def test_entries_expire(app, engine):
    store = app.state.page_cache
    now = [1000.0]
    store.clock = lambda: now[0]
    v = visitor(app)
    v.get(PAGE)
    add_paper(engine, "2609.00003", "Late arrival", day=DAY, upvotes=0)  # an ingest, say
    assert len(soup(v.get(PAGE)).select(".card")) == 2
    now[0] += store.seconds + 0.1
    assert len(soup(v.get(PAGE)).select(".card")) == 3


def test_another_worker_invalidates_through_the_data_directory(app, engine, data_dir):
    v = visitor(app)
    v.get(PAGE)
    uid = accounts.create_user(engine, "bob", "long enough")
    add_vote(engine, uid, "2609.00001")
    code = "from paperfeed.web import pagecache; pagecache.invalidate()"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PAPERFEED_DATA_DIR=str(data_dir)))
    assert votes_shown(v.get(PAGE))["2609.00001"] == "6"


def test_only_listing_pages_and_known_parameters_are_kept(app):
    v = visitor(app)
    for path in (PAGE + "?sort=newest", "/trending?days=7", "/", PAGE + "?utm_source=x", "/papers/2609.00001",
                 "/papers?q=monday", "/papers/date/2026-13-01"):
        v.get(path)
    assert set(app.state.page_cache.entries) == {PAGE + "?sort=newest", "/trending?days=7", "/"}


def test_cached_pages_are_counted_under_their_route(app):
    v = visitor(app)
    counter = metrics.REQUESTS.labels("GET", "/papers/date/{day}", "2xx")
    before = counter._value.get()
    v.get(PAGE)
    v.get(PAGE)
    assert counter._value.get() - before == 2


def test_off_when_the_setting_is_zero(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_PAGE_CACHE_SECONDS", "0")
    add_paper(engine, "2609.00001", "Popular on Monday", day=DAY, upvotes=5)
    app = create_app(engine)
    v = visitor(app)
    v.get(PAGE)
    add_vote(engine, accounts.create_user(engine, "bob", "long enough"), "2609.00001",
             at=datetime.now(UTC) - timedelta(hours=1))
    assert votes_shown(v.get(PAGE))["2609.00001"] == "6"
    assert not app.state.page_cache.entries
