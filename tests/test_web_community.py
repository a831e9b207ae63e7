"""Upvotes, submissions (with arXiv lookups against a replay server) and curator actions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from paperfeed.models import DailyEntry, Paper
from tests.replay import ReplayServer
from tests.webdata import TODAY, add_paper, client, csrf, sign_in, soup

ARXIV_FIXTURE = "arxiv-api/id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml"


@pytest.fixture
def site(engine):
    add_paper(engine, "2610.00001", "Listed today", day=TODAY, upvotes=4)
    add_paper(engine, "2610.00002", "Also today", day=TODAY, upvotes=1)
    add_paper(engine, "2610.00003", "Fresh but unlisted")
    add_paper(engine, "2001.00001", "Ancient", published=datetime(2020, 1, 1, tzinfo=UTC))
    return client(engine)


def vote(c, arxiv_id, **headers):
    return c.post(
        "/vote", data={"arxiv_id": arxiv_id, "csrf_token": csrf(c, "/"), "next": "/papers/" + arxiv_id},
        headers=headers, follow_redirects=False,
    )


def count_on(c, path="/"):
    return {
        card["id"]: card.select_one(".vote-count").get_text()
        for card in soup(c.get(path)).select("article.card")
    }


def test_vote_needs_an_account(site):
    r = vote(site, "2610.00001")
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/papers/2610.00001")
    r = vote(site, "2610.00001", **{"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login")


def test_vote_toggles(engine, site):
    sign_in(site, engine)
    r = vote(site, "2610.00002")
    assert (r.status_code, r.headers["location"]) == (303, "/papers/2610.00002")
    assert count_on(site)["paper-2610.00002"] == "2"
    page = soup(site.get("/papers/2610.00002"))
    assert page.select_one(".vote-button")["aria-pressed"] == "true"
    vote(site, "2610.00002")  # clicking again removes it
    assert count_on(site)["paper-2610.00002"] == "1"


def test_vote_with_htmx_returns_the_button(engine, site):
    sign_in(site, engine)
    r = vote(site, "2610.00001", **{"HX-Request": "true"})
    assert r.status_code == 200
    fragment = soup(r)
    assert fragment.select_one("form.vote") and "<html" not in r.text
    assert fragment.select_one(".vote-count").get_text() == "5"
    assert fragment.select_one("button")["aria-pressed"] == "true"


def test_vote_refusals(engine, site, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_VOTE", "4/86400")
    sign_in(site, engine)
    assert vote(site, "2612.99999").status_code == 404
    assert vote(site, "not an id").status_code == 400
    r = site.post("/vote", data={"arxiv_id": "2610.00001"})
    assert r.status_code == 403  # no CSRF token
    assert [vote(site, "2610.00001").status_code for _ in range(3)] == [303, 303, 429]


def submit(c, paper):
    return c.post("/submit", data={"paper": paper, "csrf_token": csrf(c, "/submit")}, follow_redirects=False)


def test_submit_a_known_paper(engine, site):
    assert site.get("/submit", follow_redirects=False).headers["location"] == "/login?next=/submit"
    sign_in(site, engine, "sam")
    r = submit(site, "https://arxiv.org/abs/2610.00003v1")
    assert (r.status_code, r.headers["location"]) == (303, "/papers/2610.00003?submitted=1")
    assert "on today's list" in site.get(r.headers["location"]).text
    home = soup(site.get("/"))
    card = home.select_one("#paper-2610\\.00003")
    assert card and "sam" in card.select_one(".meta").get_text()
    again = submit(site, "2610.00003")
    assert again.status_code == 409
    assert "already on today's list" in soup(again).select_one(".error").get_text()


def test_submit_refusals(engine, site, monkeypatch):
    sign_in(site, engine)
    r = submit(site, "not a paper")
    assert r.status_code == 400 and "Enter an arXiv id" in r.text
    r = submit(site, "2001.00001")
    assert r.status_code == 400 and "last 14 days" in r.text
    monkeypatch.setenv("PAPERFEED_SUBMIT_PER_DAY", "1")
    assert submit(site, "2610.00003").status_code == 303
    add_paper(engine, "2610.00004", "Another")
    r = submit(site, "2610.00004")
    assert r.status_code == 429 and "daily limit" in soup(r).select_one(".error").get_text()


def test_submit_fetches_unknown_papers_from_arxiv(engine, site, monkeypatch):
    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "0")
    monkeypatch.setenv("PAPERFEED_SUBMIT_MAX_AGE_DAYS", "100000")
    with ReplayServer() as arxiv:
        arxiv.add("/api/query", ARXIV_FIXTURE, query={"id_list": "1707.08567"})
        arxiv.add("/api/query", body=b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>', query={"id_list": "1707.99999"})
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", arxiv.url("/api/query"))
        sign_in(site, engine)
        r = submit(site, "arXiv:1707.08567v2")
        assert r.status_code == 303, r.text
        missing = submit(site, "1707.99999")
        assert missing.status_code == 404 and "arXiv has no paper 1707.99999" in missing.text
    with engine.connect() as conn:
        paper = conn.execute(select(Paper.__table__).where(Paper.__table__.c.arxiv_id == "1707.08567")).one()
        entry = conn.execute(select(DailyEntry.__table__).where(DailyEntry.__table__.c.arxiv_id == "1707.08567")).one()
    assert paper.title and paper.sources["title"] == "arxiv-api"
    assert entry.day == TODAY and not entry.curated
    assert soup(site.get("/papers/1707.08567")).h1.get_text(strip=True) == paper.title


def test_submit_when_arxiv_is_down(engine, site, monkeypatch):
    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "0")
    monkeypatch.setenv("PAPERFEED_HTTP_RETRIES", "0")
    with ReplayServer() as arxiv:
        arxiv.add("/api/query", fail_always=True)
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", arxiv.url("/api/query"))
        sign_in(site, engine)
        r = submit(site, "2611.00042")
    assert r.status_code == 502 and "could not be reached" in r.text


def curate(c, entry_id, action):
    return c.post(
        "/curate", data={"entry_id": entry_id, "action": action, "csrf_token": csrf(c, "/"), "next": "/"},
        follow_redirects=False,
    )


def entry_id(engine, arxiv_id):
    with engine.connect() as conn:
        table = DailyEntry.__table__
        return conn.execute(select(table.c.id).where(table.c.arxiv_id == arxiv_id)).scalar_one()


def test_curators_pin_hide_remove(engine, site):
    reader = client(engine)
    sign_in(reader, engine, "reader")
    assert curate(reader, entry_id(engine, "2610.00002"), "pin").status_code == 403
    anonymous = client(engine)
    sign_in(site, engine, "cura", role="curator")
    assert soup(site.get("/")).select("form.curate")
    assert not soup(anonymous.get("/")).select("form.curate")

    assert curate(site, entry_id(engine, "2610.00002"), "pin").status_code == 303
    assert list(count_on(anonymous)) == ["paper-2610.00002", "paper-2610.00001"]  # pinned first
    assert soup(anonymous.get("/")).select_one(".card.pinned")

    curate(site, entry_id(engine, "2610.00001"), "hide")
    assert list(count_on(anonymous)) == ["paper-2610.00002"]
    assert "paper-2610.00001" in count_on(site)  # curators still see hidden entries

    assert curate(site, entry_id(engine, "2610.00002"), "remove").status_code == 303
    assert curate(site, 999999, "remove").status_code == 404
    assert curate(site, entry_id(engine, "2610.00001"), "explode").status_code == 400


def test_admins_are_curators(engine, site):
    sign_in(site, engine, "root", role="admin")
    assert curate(site, entry_id(engine, "2610.00001"), "pin").status_code == 303



# A web request makes one call to arXiv with a short timeout: it never sits
# through the ingest client's retries and Retry-After waits (issue 12, item 5).


@pytest.fixture
def quick_arxiv(monkeypatch):
    from paperfeed.web import submissions

    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "0")
    monkeypatch.setenv("PAPERFEED_HTTP_RETRIES", "4")  # the CLI's retries must not apply here
    monkeypatch.setattr(submissions, "ARXIV_TIMEOUT", 0.3)
    with ReplayServer() as arxiv:
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", arxiv.url("/api/query"))
        yield arxiv


def stored(engine, arxiv_id):
    with engine.connect() as conn:
        table = Paper.__table__
        return conn.execute(select(table.c.arxiv_id).where(table.c.arxiv_id == arxiv_id)).first() is not None


def test_submit_when_arxiv_is_slow(engine, site, quick_arxiv):
    quick_arxiv.add("/api/query", ARXIV_FIXTURE, query={"id_list": "1707.08567"}, delay=1.5)
    sign_in(site, engine)
    began = time.monotonic()
    r = submit(site, "1707.08567")
    assert time.monotonic() - began < 1.2
    assert r.status_code == 504
    message = soup(r).select_one(".error").get_text()
    assert "did not answer" in message and "try again" in message
    assert "Traceback" not in r.text
    assert len(quick_arxiv.requests) == 1
    assert not stored(engine, "1707.08567")


def test_submit_when_arxiv_refuses_with_retry_after(engine, site, quick_arxiv, waits):
    quick_arxiv.add("/api/query", ARXIV_FIXTURE, busy_first=100, retry_after="120")
    sign_in(site, engine)
    r = submit(site, "1707.08567")
    assert waits == []  # the HTTP client slept neither the 120 s arXiv asked for nor any backoff
    assert r.status_code == 503 and r.headers["Retry-After"] == "120"
    message = soup(r).select_one(".error").get_text()
    assert "arXiv is busy" in message and "try again in 2 minutes" in message
    assert len(quick_arxiv.requests) == 1
    assert not stored(engine, "1707.08567")


def test_submit_does_not_queue_behind_other_requests(engine, site, quick_arxiv, waits, monkeypatch):
    from paperfeed.ingest import http

    quick_arxiv.add("/api/query", ARXIV_FIXTURE)
    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "3")
    host = quick_arxiv.url("").removeprefix("http://")
    monkeypatch.setitem(http._last_request, host, http.CLOCK() + 30)  # a long queue claimed the next turns
    sign_in(site, engine)
    r = submit(site, "1707.08567")
    assert waits == []  # it did not wait for its turn
    assert r.status_code == 503 and "arXiv is busy" in r.text and int(r.headers["Retry-After"]) >= 30
    assert quick_arxiv.requests == []


def test_submit_checks_the_age_before_storing(engine, site, quick_arxiv):
    quick_arxiv.add("/api/query", ARXIV_FIXTURE, query={"id_list": "1707.08567"})
    sign_in(site, engine)
    r = submit(site, "1707.08567")
    assert r.status_code == 400 and "last 14 days" in r.text
    assert not stored(engine, "1707.08567")
    assert len(quick_arxiv.requests) == 1


# --- the same rules through the API: POST /api/papers/index with a token ----------------


def index(c, arxiv_id, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return c.post("/api/papers/index", json={"arxiv_id": arxiv_id}, headers=headers)


def api_token(engine, user_id):
    from paperfeed.library import tokens

    with engine.begin() as conn:
        return tokens.create_token(conn, user_id, "api", name="test").token


def test_the_api_submits_under_the_form_rules(engine, site, monkeypatch):
    from paperfeed.web import accounts

    uid = accounts.create_user(engine, "bot", "long enough")
    token = api_token(engine, uid)
    r = index(site, "2610.00003", token)
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["paper"]["id"] == "2610.00003" and item["submittedBy"]["user"] == "bot"
    assert site.get("/api/daily_papers", params={"date": TODAY.isoformat()}).json()[-1]["paper"]["id"] == "2610.00003"
    again = index(site, "https://arxiv.org/abs/2610.00003v1", token)
    assert again.status_code == 409 and "already on today's list" in again.json()["error"]
    bad_id = index(site, "not a paper", token)  # names no paper: 404, as GET /api/papers/{id}
    assert bad_id.status_code == 404 and bad_id.json()["error"].startswith("Enter an arXiv id")
    old = index(site, "2001.00001", token)
    assert old.status_code == 403 and "last 14 days" in old.json()["error"]  # a curator may
    monkeypatch.setenv("PAPERFEED_SUBMIT_PER_DAY", "1")
    add_paper(engine, "2610.00004", "Another")
    limited = index(site, "2610.00004", token)
    assert limited.status_code == 429 and "daily limit" in limited.json()["error"]
    assert 0 < int(limited.headers["Retry-After"]) <= 86400  # until tomorrow (UTC)
    # a body that is not what the schema says: 400 with the field named, as elsewhere in the API
    bad = site.post("/api/papers/index", json={"id": "2610.00004"}, headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 400 and "arxiv_id" in bad.json()["error"]


def test_the_api_needs_a_live_token_and_ignores_the_session(engine, site):
    sign_in(site, engine, "sam")  # a signed-in browser, but no token
    r = index(site, "2610.00003")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert index(site, "2610.00003", "pf_not-a-token").status_code == 401
    with engine.connect() as conn:
        assert conn.execute(select(DailyEntry.__table__).where(
            DailyEntry.__table__.c.arxiv_id == "2610.00003")).first() is None


def test_the_api_looks_unknown_papers_up_on_arxiv(engine, site, quick_arxiv):
    from paperfeed.web import accounts

    quick_arxiv.add("/api/query", ARXIV_FIXTURE, busy_first=100, retry_after="120")
    token = api_token(engine, accounts.create_user(engine, "bot", "long enough"))
    r = index(site, "1707.08567", token)
    assert r.status_code == 503 and r.headers["Retry-After"] == "120" and "arXiv is busy" in r.json()["error"]
    assert not stored(engine, "1707.08567")


def test_the_schema_declares_the_submit_route_and_its_errors(site):
    operation = site.get("/api/openapi.json").json()["paths"]["/api/papers/index"]["post"]
    assert {"201", "400", "401", "404", "409", "429", "502", "503", "504"} <= set(operation["responses"])
    assert operation["security"] == [{"AccessToken": []}]
    # "index" is no paper id: GET there is not the paper route's, and Allow says what the schema says
    r = site.get("/api/papers/index")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
