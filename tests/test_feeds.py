"""
RSS and Atom feeds, read with feedparser: every feed is well-formed (`bozo` 0),
lists the right papers with links to their pages, keeps text that looks like
markup as text, and answers a repeated request with 304.
"""

from __future__ import annotations

import feedparser
import pytest
from fastapi.testclient import TestClient

from tests import corpus
from tests.server import paperfeed_app

FORMATS = ["rss", "atom"]
CONTENT_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


@pytest.fixture
def client(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERFEED_SITE_URL", "http://papers.test")  # links come from the setting, not the Host
    corpus.load(engine, tmp_path)
    return TestClient(paperfeed_app(engine), base_url="http://papers.test")


def fetch(client: TestClient, url: str, **params) -> feedparser.FeedParserDict:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text
    fmt = url.rsplit(".", 1)[1]
    assert r.headers["content-type"].startswith(CONTENT_TYPES[fmt])
    feed = feedparser.parse(r.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == ("rss20" if fmt == "rss" else "atom10")
    return feed


def ids(feed) -> list[str]:
    return [e.link.rsplit("/papers/", 1)[1] for e in feed.entries]


@pytest.mark.parametrize("fmt", FORMATS)
def test_daily_feed_lists_the_newest_day_or_a_given_one(client, fmt):
    newest = fetch(client, f"/feeds/daily.{fmt}")
    assert ids(newest) == ["2610.22222"]
    entry = newest.entries[0]
    assert entry.title == "Week forty-one"
    assert entry.link == "http://papers.test/papers/2610.22222"
    assert entry.id == entry.link
    assert entry.published_parsed[:3] == (2026, 10, 5)  # the day it was listed

    sample = fetch(client, f"/feeds/daily.{fmt}", date="2026-10-03")
    papers = {p["id"]: p for p in corpus.sample_papers()}
    assert set(ids(sample)) == set(papers) and ids(sample)[0] == corpus.VOTED  # most upvoted first
    for entry in sample.entries:
        paper = papers[entry.link.rsplit("/", 1)[1]]
        assert entry.title == paper["title"]
    assert [a.name for a in sample.entries[0].authors] == papers[corpus.VOTED]["authors"]
    assert fetch(client, f"/feeds/daily.{fmt}", date="2020-01-01").entries == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_that_looks_like_markup_stays_text(client, fmt):
    feed = fetch(client, f"/feeds/daily.{fmt}", date="2026-09-29")
    (entry,) = feed.entries
    assert entry.title == "Old-style identifiers & <strings>"
    assert entry.link == "http://papers.test/papers/hep-th/9901001"
    summary = entry.summary if fmt == "atom" else feedparser_text(entry.summary)
    assert summary == "An abstract about strings, with <angle brackets> & ampersands."


def feedparser_text(value: str) -> str:
    """RSS descriptions are HTML: feedparser hands back the escaped text."""
    import html

    return html.unescape(value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_trending_feed(client, fmt):
    feed = fetch(client, f"/feeds/trending.{fmt}")
    assert ids(feed)[0] == corpus.VOTED  # the only paper with upvotes in the window


@pytest.mark.parametrize("fmt", FORMATS)
def test_search_feed_follows_a_topic(client, fmt):
    feed = fetch(client, f"/feeds/search.{fmt}", q="sparse attention")
    assert ids(feed)[0] == "2609.11111"
    assert "sparse attention" in feed.feed.title
    narrowed = fetch(client, f"/feeds/search.{fmt}", q="graph", category="math.CO")
    assert narrowed.entries
    for entry in narrowed.entries:
        assert "math.CO" in [t.term for t in entry.tags]


def test_kaggle_papers_carry_categories_and_authors(client):
    feed = fetch(client, "/feeds/search.atom", q="Sparsity-certifying Graph Decompositions")
    entry = next(e for e in feed.entries if e.link.endswith("/0704.0002"))
    assert [t.term for t in entry.tags] == ["math.CO", "cs.CG"]
    assert [a.name for a in entry.authors] == ["Ileana Streinu", "Louis Theran"]


@pytest.mark.parametrize("url", ["/feeds/daily.rss", "/feeds/trending.atom", "/feeds/search.rss?q=graph"])
def test_etag_answers_a_repeat_with_304(client, url):
    first = client.get(url)
    etag = first.headers["etag"]
    assert first.headers["last-modified"].endswith("GMT")
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize(
    "url",
    ["/feeds/daily.rss?date=yesterday", "/feeds/daily.json", "/feeds/search.atom", "/feeds/search.rss?q=%20"],
)
def test_bad_feed_requests_are_400(client, url):
    r = client.get(url)
    assert r.status_code == 400 and r.json()["error"]
