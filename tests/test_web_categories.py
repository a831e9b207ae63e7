"""Category filters on every list (issue #15): day, week and month pages, trending,
the daily and trending feeds (read with feedparser) and `/api/daily_papers`; a
signed-in reader's remembered choice; and the page cache never serving a filtered
or signed-in page to anonymous visitors."""

from __future__ import annotations

from datetime import date, timedelta

import feedparser
import pytest
from sqlalchemy import select

from paperfeed.models import User
from paperfeed.web import accounts
from tests.webdata import TODAY, add_paper, add_vote, client, sign_in, soup

DAY = date(2026, 9, 28)  # a Monday
PAPERS = [  # (id, categories, upvotes): on DAY, most upvoted first
    ("2609.00001", ["cs.CL"], 6),
    ("2609.00006", ["nucl-th"], 5),
    ("2609.00002", ["hep-th"], 4),
    ("2609.00003", ["hep-ph", "cs.LG"], 3),
    ("2609.00004", ["math-ph"], 2),
    ("2609.00005", ["math.AG"], 1),
]
EVERY = [p[0] for p in PAPERS]


@pytest.fixture
def site(engine):
    for arxiv_id, cats, upvotes in PAPERS:
        add_paper(engine, arxiv_id, f"Paper {arxiv_id} in {cats[0]}", day=DAY, upvotes=upvotes, categories=cats)
    add_paper(engine, "2609.00007", "Tuesday in cs.CL", day=DAY + timedelta(days=1), upvotes=1, categories=["cs.CL"])
    return client(engine)


def listed(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [a["href"].removeprefix("/papers/") for a in soup(response).select(".card-title a")]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("category=cs.CL", ["2609.00001"]),
        ("category=cs", ["2609.00001", "2609.00003"]),  # cross-listed in cs.LG
        ("category=hep", ["2609.00002", "2609.00003"]),  # hep-th, hep-ph; not nucl-th
        ("category=math", ["2609.00004", "2609.00005"]),  # math-ph and math.AG
        ("category=HEP-TH", ["2609.00002"]),
        ("category=cs.CL&category=math", ["2609.00001", "2609.00004", "2609.00005"]),
        ("category=cs.CL+math-ph", ["2609.00001", "2609.00004"]),  # the form's box: several in one
        ("category=cs.CL,nucl", ["2609.00001", "2609.00006"]),
        ("category=", EVERY),  # empty: every category
        ("category=astro-ph", []),
    ],
)
def test_day_page_filters(site, query, expected):
    r = site.get(f"/papers/date/{DAY}?{query}")
    assert listed(r) == expected
    if not expected:
        assert "No papers in astro-ph on this list" in soup(r).select_one(".empty").get_text()


def test_week_and_month_pages_filter(site):
    assert listed(site.get("/papers/week/2026-W40?category=cs.CL")) == ["2609.00001", "2609.00007"]
    assert sorted(listed(site.get("/papers/month/2026-09?category=hep&sort=newest"))) == ["2609.00002", "2609.00003"]


def test_links_on_a_filtered_page_keep_the_filter(site):
    page = soup(site.get(f"/papers/date/{DAY}?category=hep"))
    assert page.select_one(".count").get_text(" ", strip=True) == "2 papers in hep"
    tabs = [a["href"] for a in page.select(".toolbar .tabs a")]
    assert tabs and all(h.endswith("category=hep") for h in tabs), tabs
    assert page.select_one('a[rel="next"]')["href"] == f"/papers/date/{DAY + timedelta(days=1)}?category=hep"
    assert page.select_one('#category-filter')["value"] == "hep"
    assert page.select_one('input[name="next"]')["value"].endswith("category=hep")  # back here after a vote
    suggested = [o["value"] for o in page.select("#category-choices option")]
    assert set(suggested) == {c for _, cats, _ in PAPERS for c in cats}


def test_bad_values_are_left_out_with_a_note(site):
    r = site.get(f"/papers/date/{DAY}", params=[("category", "cs.CL"), ("category", "<script>"), ("category", "x" * 300)])
    assert listed(r) == ["2609.00001"]
    note = " ".join(n.get_text() for n in soup(r).select(".notice"))
    assert "Left out “<script>”" in note and "such as cs.CL or hep" in note
    assert "<script>" not in r.text  # escaped
    only_bad = site.get(f"/papers/date/{DAY}?category=%24%24")
    assert listed(only_bad) == EVERY
    too_many = site.get(f"/papers/date/{DAY}", params=[("category", f"cs.{c}X") for c in "ABCDEFGHIJK"] + [("category", "hep")])
    assert listed(too_many) == [] and "Left out “cs.KX”, “hep”" in too_many.text


def test_trending_page_filters(engine, site):
    add_paper(engine, "2611.00001", "Trending in cs.CL", day=TODAY, upvotes=3, categories=["cs.CL"])
    add_paper(engine, "2611.00002", "Trending in hep-lat", day=TODAY, upvotes=5, categories=["hep-lat"])
    assert listed(site.get("/trending"))[:2] == ["2611.00002", "2611.00001"]
    assert listed(site.get("/trending?category=hep")) == ["2611.00002"]
    page = site.get("/trending?category=cs.CL&days=7")
    assert listed(page) == ["2611.00001"]
    assert all("category=cs.CL" in a["href"] for a in soup(page).select(".page-head .tabs a"))
    assert "Nothing in astro-ph is trending" in site.get("/trending?category=astro-ph").text


def saved_of(engine, uid: int):
    with engine.connect() as conn:
        return conn.execute(select(User.list_categories).where(User.id == uid)).scalar_one()


def remember(c, value: str, back: str, token: str):
    return c.post("/settings/list-categories", data={"category": value, "next": back, "csrf_token": token},
                  follow_redirects=False)


def test_a_signed_in_readers_choice_is_remembered(engine, site):
    uid = sign_in(site, engine)
    page = soup(site.get(f"/papers/date/{DAY}?category=hep+math"))
    form = page.find("form", {"action": "/settings/list-categories"})
    assert form.button.get_text() == "Remember for my lists"
    token = form.find("input", {"name": "csrf_token"})["value"]
    r = remember(site, form.find("input", {"name": "category"})["value"], form.find("input", {"name": "next"})["value"], token)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/date/{DAY}?sort=upvotes"
    assert saved_of(engine, uid) == ["hep", "math"]
    # every list now opens filtered, and says so
    plain = site.get(f"/papers/date/{DAY}")
    assert listed(plain) == ["2609.00002", "2609.00003", "2609.00004", "2609.00005"]
    assert "Your saved categories." in soup(plain).select_one(".category-filter").get_text()
    assert listed(site.get("/papers/week/2026-W40")) == listed(plain)
    assert listed(site.get(f"/papers/date/{DAY}?category=")) == EVERY  # for once, everything
    assert listed(site.get(f"/papers/date/{DAY}?category=cs.CL")) == ["2609.00001"]  # the address wins
    # forgetting it
    assert remember(site, "", "/trending", token).headers["location"] == "/trending"
    assert saved_of(engine, uid) is None
    assert listed(site.get(f"/papers/date/{DAY}")) == EVERY


def test_remembering_needs_csrf_and_a_reader(engine, site):
    uid = sign_in(site, engine)
    assert remember(site, "cs.CL", "/", "forged").status_code == 403
    assert saved_of(engine, uid) is None
    visitor = client(engine)
    r = remember(visitor, "cs.CL", "/", soup(visitor.get("/")).find("input", {"name": "csrf_token"})["value"])
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # an address elsewhere is no place to go back to; bad names are dropped
    r = remember(site, "cs.CL <b> hep", "//evil.example/x", soup(site.get("/")).find("input", {"name": "csrf_token"})["value"])
    assert r.headers["location"] == "/" and saved_of(engine, uid) == ["cs.CL", "hep"]


def test_filtered_and_signed_in_pages_never_reach_the_anonymous_cache(engine, site):
    cache = site.app.state.page_cache
    assert cache.seconds > 0
    assert listed(site.get(f"/papers/date/{DAY}?category=cs.CL")) == ["2609.00001"]
    assert not any("category" in key for key in cache.entries)
    reader = client(engine)
    uid = sign_in(reader, engine)
    with engine.begin() as conn:
        conn.execute(User.__table__.update().where(User.id == uid).values(list_categories=["cs.CL"]))
    assert listed(reader.get(f"/papers/date/{DAY}")) == ["2609.00001"]  # the reader's own view
    assert f"/papers/date/{DAY}" not in cache.entries
    for visitor in (client(engine), site):  # a new visitor, and one who filtered before
        assert listed(visitor.get(f"/papers/date/{DAY}")) == EVERY
    assert f"/papers/date/{DAY}" in cache.entries  # the anonymous page is cached as before
    assert listed(reader.get(f"/papers/date/{DAY}")) == ["2609.00001"]
    accounts.create_user(engine, "voter", "long enough")  # nothing else changed the cached page
    assert listed(client(engine).get(f"/papers/date/{DAY}")) == EVERY


# --- the API and the feeds ----------------------------------------------------------


def api_ids(site, **params) -> list[str]:
    r = site.get("/api/daily_papers", params=params)
    assert r.status_code == 200, r.text
    return [item["paper"]["id"] for item in r.json()]


def test_api_daily_papers_filters(site):
    assert api_ids(site, date=str(DAY), category="hep") == ["2609.00002", "2609.00003"]
    r = site.get("/api/daily_papers", params=[("date", str(DAY)), ("category", "cs.CL"), ("category", "math")])
    assert [i["paper"]["id"] for i in r.json()] == ["2609.00001", "2609.00004", "2609.00005"]
    assert api_ids(site, week="2026-W40", category="cs.CL") == ["2609.00007", "2609.00001"]  # newest day first
    assert api_ids(site, date=str(DAY), category="") == EVERY
    # without a period: the newest days, read until the page fills
    assert api_ids(site, category="cs.CL", limit=2) == ["2609.00007", "2609.00001"]
    assert api_ids(site, category="math", limit=1, p=1) == ["2609.00005"]
    assert api_ids(site, category="astro-ph") == []


@pytest.mark.parametrize(
    "params, message",
    [
        ([("category", "cs CL")], "category: 'cs CL' is not an arXiv category or archive (such as cs.CL or hep)"),
        ([("category", "cs.")], "is not an arXiv category"),
        ([("category", f"cs.{c}X") for c in "ABCDEFGHIJK"], "category: give it at most 10 times (got 11)"),
    ],
)
def test_api_refuses_bad_categories(site, params, message):
    r = site.get("/api/daily_papers", params=params)
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_category_is_declared_in_the_schema(site):
    operation = site.get("/api/openapi.json").json()["paths"]["/api/daily_papers"]["get"]
    param = next(p for p in operation["parameters"] if p["name"] == "category")
    assert param["schema"]["type"] == "array" and param["schema"]["maxItems"] == 10
    assert param["schema"]["items"]["pattern"].startswith("^(?:[A-Za-z]+")
    assert "hep-th" in param["description"]


def feed(site, path: str, params) -> feedparser.FeedParserDict:
    r = site.get(path, params=params)
    assert r.status_code == 200, r.text
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_daily_and_trending_feeds_filter(engine, site, fmt):
    parsed = feed(site, f"/feeds/daily.{fmt}", [("date", str(DAY)), ("category", "hep")])
    assert [e.link.rsplit("/papers/", 1)[1] for e in parsed.entries] == ["2609.00002", "2609.00003"]
    assert parsed.feed.title == f"Daily papers {DAY} in hep"
    assert all({t.term for t in e.tags} & {"hep-th", "hep-ph"} for e in parsed.entries)
    both = feed(site, f"/feeds/daily.{fmt}", [("date", str(DAY)), ("category", "math"), ("category", "nucl-th")])
    assert [e.link.rsplit("/papers/", 1)[1] for e in both.entries] == ["2609.00006", "2609.00004", "2609.00005"]
    add_paper(engine, "2611.00001", "Trending in cs.CL", day=TODAY, upvotes=3, categories=["cs.CL"])
    add_paper(engine, "2611.00002", "Trending in hep-lat", day=TODAY, upvotes=5, categories=["hep-lat"])
    trending = feed(site, f"/feeds/trending.{fmt}", {"category": "cs"})
    assert [e.link.rsplit("/papers/", 1)[1] for e in trending.entries] == ["2611.00001"]
    assert site.get(f"/feeds/daily.{fmt}", params={"category": "<x>"}).status_code == 400


def test_trending_api_filters(engine, site):
    add_paper(engine, "2611.00001", "Trending in cs.CL", day=TODAY, upvotes=3, categories=["cs.CL"])
    add_paper(engine, "2611.00002", "Trending in hep-lat", day=TODAY, upvotes=5, categories=["hep-lat"])
    uid = accounts.create_user(engine, "voter", "long enough")
    add_vote(engine, uid, "2611.00001")
    assert api_ids(site, sort="trending")[:2] == ["2611.00002", "2611.00001"]
    assert api_ids(site, sort="trending", category="cs") == ["2611.00001"]


def test_search_without_an_index_applies_the_same_prefix_rule(site):
    """No index is built here: the substring fallback filters by primary category as `cat:` does."""
    assert sorted(listed(site.get("/papers?q=Paper&category=hep"))) == ["2609.00002", "2609.00003"]
    assert sorted(listed(site.get("/papers?q=Paper&category=MATH"))) == ["2609.00004", "2609.00005"]
