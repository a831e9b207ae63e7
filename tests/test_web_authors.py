"""
Author pages and following (issue #13): names on cards and paper pages link
to `/authors/{key}`; the page lists the author's papers newest first (paged),
co-authors, categories and "maybe the same person" keys, and says namesakes
are merged; follow and unfollow an author or a category with a form (and
htmx), listed on `/library/follows` and on the library page.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paperfeed.library import follows
from tests.webdata import TODAY, add_paper, client, csrf, sign_in, soup


@pytest.fixture
def site(engine):
    add_paper(engine, "2401.00001", "Old SSM", authors=["Albert Gu", "Tri Dao"],
              published=datetime(2021, 3, 1, tzinfo=UTC), categories=["cs.LG"])
    add_paper(engine, "2401.00002", "Mamba", authors=["Albert Gu", "Tri Dao", "Chris Ré"],
              published=datetime(2023, 12, 1, tzinfo=UTC), day=TODAY, categories=["cs.LG", "cs.CL"])
    add_paper(engine, "2401.00003", "Middle", authors=["Álbert  Gu"], published=datetime(2022, 6, 1, tzinfo=UTC),
              categories=["stat.ML"])
    add_paper(engine, "2401.00004", "Initials", authors=["A. Gu", "Ada Lovelace"],
              published=datetime(2020, 1, 1, tzinfo=UTC))
    return client(engine)


def test_cards_and_paper_pages_link_authors(engine, site):
    links = soup(site.get("/")).select(".card .authors a")
    assert [(a.get_text(), a["href"]) for a in links][:3] == [
        ("Albert Gu", "/authors/albert%20gu"), ("Tri Dao", "/authors/tri%20dao"), ("Chris Ré", "/authors/chris%20re")]
    page = soup(site.get("/papers/2401.00004"))
    assert [a["href"] for a in page.select(".paper-head .authors a")] == ["/authors/a%20gu", "/authors/ada%20lovelace"]


def test_author_page_newest_first_with_coauthors_and_maybe_same(engine, site):
    r = site.get("/authors/albert%20gu")
    assert r.status_code == 200
    page = soup(r)
    assert page.h1.get_text() == "Albert Gu"
    assert [a.get_text() for a in page.select(".author-papers .title")] == ["Mamba", "Middle", "Old SSM"]
    coauthors = {a.get_text(): a["href"] for a in page.select(".coauthors a")}
    assert coauthors["Tri Dao"] == "/authors/tri%20dao" and "Chris Ré" in coauthors
    assert {a.get_text() for a in page.select(".author-categories a.badge")} == {"cs.LG", "cs.CL", "stat.ML"}
    assert [(a.get_text(), a["href"]) for a in page.select(".maybe-same a")] == [("A. Gu", "/authors/a%20gu")]
    assert "namesakes with the same full name are merged" in page.select_one(".namesakes").get_text()
    # any spelling of the name is sent on to the key's page
    moved = site.get("/authors/Albert Gu", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/authors/albert%20gu"
    assert site.get("/authors/nobody%20here").status_code == 404
    assert site.get("/authors/%20%20").status_code == 404
    assert site.get("/authors/albert%20gu?p=0").status_code == 400
    assert site.get("/authors/albert%20gu?p=2").status_code == 404


def test_author_page_pages(engine, site, monkeypatch):
    from paperfeed.web import author_pages

    monkeypatch.setattr(author_pages, "PER_PAGE", 2)
    first = soup(site.get("/authors/albert%20gu"))
    assert [a.get_text() for a in first.select(".author-papers .title")] == ["Mamba", "Middle"]
    assert first.select_one(".pager a[rel=next]")["href"] == "/authors/albert%20gu?p=2"
    second = soup(site.get("/authors/albert%20gu?p=2"))
    assert [a.get_text() for a in second.select(".author-papers .title")] == ["Old SSM"]


def follow_form(page, kind: str):
    return next(f for f in page.select("form.follow") if f.find("input", {"name": "kind"})["value"] == kind)


def post_form(c, form, **headers):
    data = {i["name"]: i.get("value", "") for i in form.find_all("input")}
    return c.post(form["action"], data=data, headers=headers, follow_redirects=False)


def test_follow_and_unfollow_an_author_and_a_category(engine, site):
    visitor = soup(site.get("/authors/albert%20gu"))
    assert not visitor.select("form.follow") and visitor.select_one("a.follow-button")["href"].startswith("/login")
    uid = sign_in(site, engine, "ada")
    page = soup(site.get("/authors/albert%20gu"))
    r = post_form(site, follow_form(page, "author"))
    assert r.status_code == 303 and r.headers["location"] == "/authors/albert%20gu"
    with engine.connect() as conn:
        assert [(f.kind, f.key, f.label) for f in follows.list_follows(conn, uid)] == [("author", "albert gu", "Albert Gu")]
    page = soup(site.get("/authors/albert%20gu"))
    button = follow_form(page, "author").button
    assert button["aria-pressed"] == "true" and "Following" in button.get_text()

    # a category chip on a paper page, with htmx: the answer is the button alone
    paper = soup(site.get("/papers/2401.00002"))
    chip = follow_form(paper, "category")
    r = post_form(site, chip, **{"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith("<form")
    assert soup(r).button["aria-pressed"] == "true"
    listed = soup(site.get("/library/follows"))
    assert [a.get_text() for a in listed.select(".follow-list a")] == ["Albert Gu", "cs.LG"]
    library = soup(site.get("/library"))  # the library page lists them too, linked
    assert [(a.get_text(), a["href"]) for a in library.select(".following a")] == [
        ("Albert Gu", "/authors/albert%20gu"), ("cs.LG", "/papers?category=cs.LG")]

    # unfollow from the list
    r = post_form(site, follow_form(listed, "author"))
    assert r.status_code == 303
    with engine.connect() as conn:
        assert [f.key for f in follows.list_follows(conn, uid)] == ["cs.LG"]
    # without a CSRF token nothing happens
    r = site.post("/follow", data={"kind": "category", "value": "cs.CL"})
    assert r.status_code == 403
    bad = site.post("/follow", data={"kind": "category", "value": "Not a category!", "csrf_token": csrf(site, "/")})
    assert bad.status_code == 400
    assert site.post("/follow", data={"kind": "planet", "value": "x", "csrf_token": csrf(site, "/")}).status_code == 400


def test_follows_page_needs_a_reader(engine, site):
    r = site.get("/library/follows", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    sign_in(site, engine, "ada")
    assert "You follow no authors yet" in site.get("/library/follows").text
    assert not soup(site.get("/library")).select(".following")
