"""
The "For you" page over a real (small) search index: ranked by the library,
with why-lines naming the saved papers, "not interested", hidden gems,
onboarding, and one reader's dismissals never reaching another.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from paperfeed.models import Dismissal
from tests.foryou_support import NOW, SAVED, TOPIC, load, save_library
from tests.webdata import add_paper, client, csrf, sign_in, soup

search = pytest.importorskip("paperfeed.search")


@pytest.fixture
def site(engine, data_dir):
    load(engine)
    return client(engine)


def ranked(page) -> list[str]:
    return [li["id"].removeprefix("foryou-") for li in page.select("li.foryou-item")]


def test_anonymous_visitors_are_sent_to_log_in(site):
    r = site.get("/for-you", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/for-you")


def test_the_library_topic_comes_first_with_why_lines(engine, site):
    uid = sign_in(site, engine)
    save_library(engine, uid)
    r = site.get("/for-you?window=week")
    assert r.status_code == 200
    page = soup(r)
    order = ranked(page)
    assert set(order[:3]) == TOPIC, order
    assert not set(order) & {p[0] for p in SAVED}  # the library itself is never recommended
    first = page.select_one("li.foryou-item")
    links = {a["href"] for a in first.select(".why a")}
    assert links and links <= {f"/papers/{p[0]}" for p in SAVED}
    assert "in your library" in first.select_one(".why").get_text()
    assert first.select_one("button.save-button[aria-pressed=false]") is not None  # not a link to log in
    nav = page.select_one('.main-nav a[href="/for-you"]')
    assert nav is not None and nav.get("aria-current") == "page"


def test_not_interested_hides_the_paper_after_reload(engine, site):
    uid = sign_in(site, engine)
    save_library(engine, uid)
    before = ranked(soup(site.get("/for-you")))
    gone = before[0]
    r = site.post("/for-you/dismiss", data={"arxiv_id": gone, "csrf_token": csrf(site, "/for-you"),
                                            "next": "/for-you"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/for-you"
    after = ranked(soup(site.get("/for-you")))
    assert gone not in after and set(after) == set(before) - {gone}
    # htmx: the answer is empty (the card is swapped out); twice is still one dismissal
    r = site.post("/for-you/dismiss", data={"arxiv_id": gone, "csrf_token": csrf(site, "/for-you")},
                  headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text == ""
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dismissal)).scalar_one() == 1
    # still found by search and on its page
    assert site.get(f"/papers/{gone}").status_code == 200


def test_dismiss_refuses_a_bad_form(engine, site):
    sign_in(site, engine)
    token = csrf(site, "/for-you")
    assert site.post("/for-you/dismiss", data={"arxiv_id": "2611.00001"}).status_code == 403
    assert site.post("/for-you/dismiss", data={"arxiv_id": "nonsense", "csrf_token": token}).status_code == 400
    assert site.post("/for-you/dismiss", data={"arxiv_id": "2611.09999", "csrf_token": token}).status_code == 404


def test_hidden_gems_put_the_low_upvote_fits_first(engine, site):
    uid = sign_in(site, engine)
    save_library(engine, uid)
    plain = ranked(soup(site.get("/for-you")))
    gems_page = soup(site.get("/for-you?gems=1"))
    gems = ranked(gems_page)
    assert plain.index("2611.00001") < 2  # the much upvoted one fits well...
    assert gems != plain and set(gems) == set(plain)
    assert gems[:2] == [p for p in plain if p in TOPIC - {"2611.00001"}]  # ...but the gems come first
    assert gems.index("2611.00001") > gems.index("2611.00002")
    assert gems.index("2611.00001") > gems.index("2611.00003")
    assert "Few upvotes yet" in gems_page.select_one("li.foryou-item .why").get_text()


def test_empty_library_shows_onboarding(engine, site):
    sign_in(site, engine)
    page = soup(site.get("/for-you"))
    assert page.select_one("#foryou-onboarding") is not None
    assert page.select_one('a[href="/library/import"]') is not None
    assert not page.select("li.foryou-item")
    # following a category from the onboarding ranks that category
    r = site.post("/for-you/follow", data={"category": ["cs.LG"], "csrf_token": csrf(site, "/for-you")},
                  follow_redirects=False)
    assert r.status_code == 303
    page = soup(site.get("/for-you"))
    assert page.select_one("#foryou-onboarding") is None
    assert "In cs.LG, which you follow" in page.select_one(".why").get_text()
    bad = site.post("/for-you/follow", data={"other": "not a category!", "csrf_token": csrf(site, "/for-you")})
    assert bad.status_code == 400


def test_another_readers_dismissals_do_not_leak(engine, site):
    alice = sign_in(site, engine, "alice")
    save_library(engine, alice)
    site.post("/for-you/dismiss", data={"arxiv_id": "2611.00002", "csrf_token": csrf(site, "/for-you")})
    assert "2611.00002" not in ranked(soup(site.get("/for-you")))
    other = client(engine)
    bob = sign_in(other, engine, "bob")
    save_library(engine, bob)
    assert "2611.00002" in ranked(soup(other.get("/for-you")))


def test_windows_and_no_index(engine, data_dir):
    add_paper(engine, "2611.00001", "A paper", published=NOW - timedelta(hours=2))
    c = client(engine)
    sign_in(c, engine)
    r = c.get("/for-you")
    assert r.status_code == 200 and "not built yet" in soup(r).select_one("#foryou-unavailable").get_text()
    search.update_index(engine)
    for window in ("day", "week", "month", "since", "bogus"):
        assert c.get(f"/for-you?window={window}").status_code == 200
    assert c.get("/for-you?page=0").status_code in (400, 422)
