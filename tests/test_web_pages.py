"""The pages, in process: daily lists, trending, search, paper pages, bad input, escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from paperfeed.web import accounts, pagecache, search_bridge
from tests.webdata import TODAY, add_paper, add_vote, client, soup

D1, D2, D3 = date(2026, 9, 28), date(2026, 10, 1), date(2026, 10, 3)  # Mon, Thu, Sat


@pytest.fixture
def site(engine):
    add_paper(engine, "2609.00001", "Popular on Monday", day=D1, upvotes=5, submitted_by="hf-alice")
    add_paper(engine, "2610.00001", "Quiet Thursday paper", day=D2, upvotes=1)
    add_paper(engine, "2610.00002", "Thursday favourite", day=D2, upvotes=9,
              published=datetime(2026, 9, 20, tzinfo=UTC))
    add_paper(engine, "2610.00003", "Newest on Thursday", day=D2, upvotes=2,
              published=datetime(2026, 9, 30, tzinfo=UTC))
    add_paper(engine, "2610.00004", "Saturday paper on $\\alpha$-divergence", day=D3, upvotes=0,
              categories=["stat.ML", "cs.LG"])
    add_paper(engine, "hep-th/9901001", "Old-style strings", categories=["hep-th"],
              published=datetime(1999, 1, 4, tzinfo=UTC))
    return client(engine)


def titles(response) -> list[str]:
    return [h.get_text(strip=True) for h in soup(response).select(".card-title")]


def test_home_shows_latest_day_and_says_so(site):
    r = site.get("/")
    assert r.status_code == 200
    page = soup(r)
    assert "3 October 2026" in page.h1.get_text()
    assert "No papers have been listed today" in page.select_one(".notice").get_text()
    assert titles(r) == ["Saturday paper on $\\alpha$-divergence"]
    assert page.select_one('a[rel="prev"]')["href"] == f"/papers/date/{D2}"
    assert page.select_one('a[rel="next"]') is None


def test_home_shows_today_without_notice(engine, site):
    add_paper(engine, "2611.00001", "Today's paper", day=TODAY, upvotes=1)
    r = site.get("/")
    assert titles(r) == ["Today's paper"]
    assert soup(r).select_one(".notice") is None


def test_day_sorted_by_upvotes_with_neighbours(site):
    r = site.get(f"/papers/date/{D2}")
    assert r.status_code == 200
    assert titles(r) == ["Thursday favourite", "Newest on Thursday", "Quiet Thursday paper"]
    page = soup(r)
    assert page.select_one('a[rel="prev"]')["href"] == f"/papers/date/{D1}"  # skips empty days
    assert page.select_one('a[rel="next"]')["href"] == f"/papers/date/{D3}"
    votes = [b.select_one(".vote-count").get_text() for b in page.select(".vote-button")]
    assert votes == ["9", "2", "1"]


def test_sorts(site):
    newest = titles(site.get(f"/papers/date/{D2}?sort=newest"))
    assert newest[:2] == ["Quiet Thursday paper", "Newest on Thursday"]  # published yesterday, then 30 Sep
    assert titles(site.get(f"/papers/date/{D2}?sort=trending"))[0] == "Thursday favourite"
    assert site.get(f"/papers/date/{D2}?sort=random").status_code == 400


def test_week_and_month(site):
    week = site.get("/papers/week/2026-W40")
    assert week.status_code == 200
    assert len(titles(week)) == 5  # Monday 28 Sep to Sunday 4 Oct
    assert soup(week).select_one('a[rel="next"]') is None
    month = site.get("/papers/month/2026-10")
    assert len(titles(month)) == 4
    assert soup(month).select_one('a[rel="prev"]')["href"] == "/papers/month/2026-09"


def test_empty_day_page(site):
    r = site.get("/papers/date/2026-09-30")
    assert r.status_code == 200
    assert "No papers on this list" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/papers/date/2026-13-01",
        "/papers/date/2026-02-30",
        "/papers/date/yesterday",
        "/papers/date/99999-01-01",
        "/papers/date/0001-01-01",
        "/papers/week/2026-W60",
        "/papers/week/2026-40",
        "/papers/month/2026-13",
        "/?p=0",
        "/?p=-1",
        "/?p=99999999999999999999",
        "/?p=abc",
        "/papers?after=not-a-date",
        "/papers?q=x&mode=magic",
        "/trending?days=100000",
    ],
)
def test_bad_parameters_are_friendly_400s(site, path):
    r = site.get(path)
    assert r.status_code == 400
    assert "text/html" in r.headers["content-type"]
    assert "Traceback" not in r.text
    assert soup(r).select_one(".error-page")


def test_page_past_the_end_is_404(site):
    assert site.get(f"/papers/date/{D2}?p=2").status_code == 404


def test_paper_page(site):
    r = site.get("/papers/2610.00002")
    assert r.status_code == 200
    page = soup(r)
    assert page.h1.get_text(strip=True) == "Thursday favourite"
    assert "Ada Lovelace, Alan Turing" in page.select_one(".authors").get_text()
    assert "An abstract about learning." in page.select_one(".abstract").get_text()
    assert page.select_one('a[href="https://arxiv.org/pdf/2610.00002"]')
    assert page.select_one('a[href="https://arxiv.org/abs/2610.00002"]')
    assert [a.get_text() for a in page.select(".versions a[href*='arxiv.org']")] == ["v1", "v2"]
    assert page.select_one(".vote-count").get_text() == "9"
    bib = page.select_one("#bibtex").get_text()
    for part in ("@misc{2610.00002,", "title = {Thursday favourite}", "author = {Ada Lovelace and Alan Turing}",
                 "year = {2026}", "eprint = {2610.00002}", "archivePrefix = {arXiv}", "primaryClass = {cs.LG}"):
        assert part in bib
    assert page.select_one('button[data-copy="bibtex"]')


def test_old_style_ids_and_redirects(site):
    r = site.get("/papers/hep-th/9901001")
    assert r.status_code == 200 and "Old-style strings" in r.text
    for form in ("/papers/hep-th/9901001v2", "/papers/arXiv:hep-th/9901001", "/papers/HEP-TH/9901001"):
        r = site.get(form, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (301, "/papers/hep-th/9901001")
    r = site.get("/papers/2610.00002v3", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/papers/2610.00002")


def test_unknown_paper_is_a_friendly_404(site):
    for path in ("/papers/2612.99999", "/papers/not-an-id", "/papers/%3Cscript%3E"):
        r = site.get(path)
        assert r.status_code == 404
        assert soup(r).select_one(".error-page")


def test_markdown_version(site):
    r = site.get("/papers/2610.00002.md")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/markdown")
    assert "Thursday favourite" in r.text


def test_trending_page(engine, site):
    uid = accounts.create_user(engine, "fan", "long enough")
    add_vote(engine, uid, "2610.00001")
    r = site.get("/trending")
    assert r.status_code == 200
    assert titles(r) == ["Quiet Thursday paper"]  # the only upvote of the last 7 days
    assert soup(r).select_one(".notice") is None


def test_trending_falls_back_to_the_last_active_week(site):
    r = site.get("/trending")
    assert "Nothing was upvoted in the last 7 days" in soup(r).select_one(".notice").get_text()
    assert titles(r)[0] == "Thursday favourite"


def test_search_empty_state_helps(site):
    r = site.get("/papers")
    page = soup(r)
    assert page.select_one("#q") and page.select_one('label[for="q"]')
    assert len(page.select(".examples a")) >= 3
    assert "author:" in page.select_one(".syntax").get_text()
    assert "stat.ML" in [o["value"] for o in page.select("#category option")]


def test_search_finds_and_highlights(site):
    r = site.get("/papers?q=favourite")
    assert r.status_code == 200
    assert titles(r)[0] == "Thursday favourite"
    assert soup(r).select_one(".count").get_text().startswith("1 result")


def test_search_filters_and_pages(site):
    r = site.get("/papers?q=&category=stat.ML")
    assert titles(r) == ["Saturday paper on $\\alpha$-divergence"]
    r = site.get("/papers?q=abstract&before=2000-01-01")
    assert titles(r) == ["Old-style strings"]
    assert site.get("/papers?q=abstract&p=2").status_code == 200


def test_safe_snippet_lets_only_marks_through():
    assert search_bridge.safe_snippet("a <mark>b</mark> &amp; c") == "a <mark>b</mark> &amp; c"
    bad = search_bridge.safe_snippet('<mark><script>alert(1)</script></mark><img src=x onerror=alert(1)>')
    assert "<script" not in bad and "<img" not in bad
    assert "&lt;script&gt;" in bad and bad.startswith("<mark>")


def test_hostile_metadata_renders_as_text(engine, site):
    title = "<script>alert(1)</script> and <img src=x onerror=alert(1)>"
    add_paper(engine, "2610.00666", title, day=D3, upvotes=100,
              authors=["<img src=x onerror=alert(1)>"], abstract="<script>alert(2)</script> $x<y$")
    for path in ("/papers/2610.00666", f"/papers/date/{D3}", "/papers?q=alert", "/papers/week/2026-W40"):
        r = site.get(path)
        page = soup(r)
        assert not [s for s in page.find_all("script") if "alert" in (s.string or "")], path
        assert not page.find_all("img"), path
        assert "<script>alert(1)</script>" in page.get_text(), path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text, path


def test_every_page_has_layout_and_subscribe_box(site):
    for path in ("/", "/trending", "/papers", "/papers/2610.00002", "/login", "/nowhere"):
        page = soup(site.get(path))
        assert page.find("main", id="main") and page.find("nav", attrs={"aria-label": "Main"}), path
        form = page.select_one('form[action="/subscribe"]')
        assert form.select_one('input[type="email"][name="email"]') and form.select_one('input[name="csrf_token"]')
        assert page.select_one('label[for="subscribe-email"]')


def test_healthz(site):
    assert site.get("/healthz").json()["status"] == "ok"  # the details: tests/test_web_metrics.py


def test_voted_state_and_submitter_on_cards(engine, site):
    r = site.get(f"/papers/date/{D1}")
    assert "hf-alice" in soup(r).select_one(".meta").get_text()
    uid = accounts.create_user(engine, "bob", "long enough")
    add_vote(engine, uid, "2609.00001", at=datetime.now(UTC) - timedelta(hours=1))
    # a vote written straight to the database (not through /vote) reaches visitors
    # when the page cache expires (tests/test_web_pagecache.py); invalidate it now, as /vote does
    pagecache.invalidate()
    r = site.get(f"/papers/date/{D1}")
    assert soup(r).select_one(".vote-count").get_text() == "6"


def test_search_and_similar_with_the_real_index(engine, site):
    search = pytest.importorskip("paperfeed.search")
    add_paper(engine, "2610.00777", "<b>Bold</b> claims about favourite divergences",
              abstract="Divergence <script>alert(1)</script> estimates for favourite models.")
    search.update_index(engine)
    r = site.get("/papers?q=favourite+divergence")
    page = soup(r)
    assert page.select_one(".notice") is None  # ranked results, not the fallback
    assert page.select(".card-title mark") and page.select(".snippet mark")
    assert not page.find_all("b") and not [s for s in page.find_all("script") if "alert" in (s.string or "")]
    assert "<b>Bold</b>" in page.get_text()
    paper = soup(site.get("/papers/2610.00002"))
    assert len(paper.select("#similar-title + .cards article.card")) >= 1
