"""
No anonymous request costs more than a person's paging (issue #12, item 4):
page depth is bounded everywhere a list is paged (and the schema says so),
searches are rate-limited per client address, and the substring scan answers
only when no index is built or the search extra is missing; any other search
failure is a logged 503.
"""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed import search
from paperfeed.web import cards
from tests.webdata import add_paper, client

DAY = date(2026, 10, 3)


@pytest.fixture
def web(engine):
    for i in range(3):
        add_paper(engine, f"2610.0000{i + 1}", f"Learning paper {i}", day=DAY, upvotes=i)
    return client(engine)


@pytest.mark.parametrize("query", ["p=1000000000", "p=1000", "p=-1", "limit=-1", "limit=0", "limit=101"])
def test_api_daily_papers_refuses_pages_past_the_bound(web, query):
    r = web.get(f"/api/daily_papers?{query}")
    assert r.status_code == 400, r.text
    assert r.json()["error"]


def test_api_daily_papers_schema_says_the_bound(web):
    spec = web.get("/api/openapi.json").json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/daily_papers"]["get"]["parameters"]}
    assert params["p"]["maximum"] == cards.MAX_DEPTH - 1
    assert params["limit"]["maximum"] == 100


def test_api_pages_past_the_depth_are_empty_and_read_nothing(web, monkeypatch):
    wanted = []
    real = cards._recent_days
    monkeypatch.setattr(cards, "_recent_days", lambda conn, q, n, now: wanted.append(n) or real(conn, q, n, now))
    assert len(web.get("/api/daily_papers?p=0&limit=2").json()) == 2
    assert web.get("/api/daily_papers?p=999&limit=1").status_code == 200
    assert web.get("/api/daily_papers?p=10&limit=100").json() == []  # starts at entry 1,000
    assert web.get("/api/daily_papers?p=500&limit=100&sort=trending").json() == []
    assert max(wanted) <= cards.MAX_DEPTH and wanted == [2, 1000]


def test_pages_refuse_page_numbers_past_the_depth(web):
    r = web.get("/papers?q=learning&p=51")
    assert r.status_code == 400 and "at most 50" in r.text
    assert web.get("/papers?q=learning&p=50").status_code == 200
    r = web.get(f"/papers/date/{DAY}?p=21")
    assert r.status_code == 400 and "at most 20" in r.text
    assert web.get(f"/papers/date/{DAY}?p=1").status_code == 200


def test_search_is_rate_limited_per_client_address(web, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_SEARCH", "3/60")
    assert web.get("/papers?q=learning").status_code == 200
    assert web.get("/api/papers/search?q=learning").status_code == 200
    assert web.get("/feeds/search.rss?q=learning").status_code == 200
    for _ in range(3):  # browsing and the query-less API listing are not searches
        assert web.get("/papers").status_code == 200
        assert web.get("/api/papers/search").status_code == 200
    page = web.get("/papers?q=learning")
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    api = web.get("/api/papers/search?q=learning")
    assert api.status_code == 429 and "error" in api.json() and int(api.headers["Retry-After"]) > 0
    feed = web.get("/feeds/search.atom?q=learning")
    assert feed.status_code == 429 and "error" in feed.json()


def test_ipv6_searchers_share_a_bucket_per_64(engine, monkeypatch):
    """One IPv6 host holds a whole /64: rotating through it must not buy more searches."""
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    add_paper(engine, "2610.00001", "Learning paper", day=DAY)
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_SEARCH", "2/3600")
    app = create_app(engine)

    def search_from(address: str) -> int:
        with TestClient(app, raise_server_exceptions=False, client=(address, 50000)) as c:
            return c.get("/api/papers/search?q=learning").status_code

    assert [search_from(f"2001:db8:5:6::{i}") for i in range(1, 4)] == [200, 200, 429]
    assert search_from("2001:db8:5:7::1") == 200  # the neighbouring /64 is someone else


def test_a_failing_search_is_a_logged_503_not_a_full_scan(web, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("index file is corrupt")

    monkeypatch.setattr(search, "search", broken)
    page = web.get("/papers?q=learning")
    assert page.status_code == 503 and "Learning paper" not in page.text
    api = web.get("/api/papers/search?q=learning")
    assert api.status_code == 503 and "error" in api.json()
    assert any("index file is corrupt" in (r.exc_text or "") for r in caplog.records)


@pytest.mark.parametrize("missing", [
    lambda: search.IndexNotBuilt("/nowhere"),
    lambda: ModuleNotFoundError("No module named 'tantivy'", name="tantivy"),
])
def test_substring_fallback_only_without_an_index_or_the_extra(web, monkeypatch, missing):
    def absent(*args, **kwargs):
        raise missing()

    monkeypatch.setattr(search, "search", absent)
    page = web.get("/papers?q=learning")
    assert page.status_code == 200 and "Learning paper" in page.text
    assert "index is not built" in page.text  # the page says it is the fallback


def test_another_models_index_answers_with_keyword_ranking(web, monkeypatch):
    modes = []

    def picky(engine, query, mode="hybrid", **kwargs):
        modes.append(mode)
        if mode != "keyword":
            raise search.EncoderMismatch("old-model", "new-model")
        return search.SearchPage(query=query, mode=mode, total=0, offset=0, limit=20)

    monkeypatch.setattr(search, "search", picky)
    assert web.get("/papers?q=learning").status_code == 200
    assert modes == ["hybrid", "keyword"]
