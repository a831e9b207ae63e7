"""
Collection feeds and the reader's own data (issue #13): a private collection's
secret feed URL read by feedparser, 404 once revoked, regenerated or the account
disabled; a public collection's public feed, 404 while private; another reader
gets 404 for the private feed; the account page downloads everything saved and
deletes the account with its library, notes, follows and tokens.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest
from sqlalchemy import func, select, update

from paperfeed.library import collection as coll
from paperfeed.library import follows, saved, tokens
from paperfeed.models import (
    AccessToken,
    Collection,
    CollectionPaper,
    Follow,
    SavedPaper,
    User,
    Vote,
)
from tests.webdata import TODAY, add_paper, add_vote, client, csrf, sign_in, soup

SITE = "https://papers.example.org"


@pytest.fixture
def site(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_SITE_URL", SITE)  # links come from siteurl, never from the request
    add_paper(engine, "2401.00001", "State spaces", authors=["Albert Gu", "Tri Dao"], day=TODAY,
              abstract="Selective state spaces.")
    add_paper(engine, "2401.00002", "Attention again", authors=["Ada Lovelace"])
    return client(engine)


def library(engine, uid):
    with engine.begin() as conn:
        mine = coll.create_collection(conn, uid, "Mamba reading", "State-space models")
        saved.save(conn, uid, "2401.00001", [mine.id], note="my private note")
        saved.save(conn, uid, "2401.00002")
    return mine


def make_feed(c, collection_id: int, action: str = "create") -> str:
    page = c.post(f"/settings/feeds/{collection_id}", data={"action": action, "csrf_token": csrf(c, "/settings/tokens")})
    assert page.status_code == 200, page.text
    return soup(page).find(id="new-feed-atom").get_text()


def path_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_private_feed_url_read_by_feedparser_then_revoked(engine, site):
    uid = sign_in(site, engine, "ada")
    mine = library(engine, uid)
    url = make_feed(site, mine.id)
    assert url.startswith(SITE + "/feeds/library/pf_") and url.endswith(".atom")
    reader = client(engine)  # a feed reader: no cookie
    r = reader.get(path_of(url))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    assert r.headers["Cache-Control"] == "private, no-cache"
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Mamba reading · ada"
    assert feed.feed.link == f"{SITE}/library?collection={mine.slug}"  # the owner's page of it, by slug
    assert site.get(feed.feed.link.removeprefix(SITE)).status_code == 200
    assert [e.link for e in feed.entries] == [SITE + "/papers/2401.00001"]
    assert "my private note" not in r.text
    rss = feedparser.parse(reader.get(path_of(url).replace(".atom", ".rss")).content)
    assert not rss.bozo and rss.entries[0].title == "State spaces"
    assert "not read yet" not in site.get("/settings/tokens").text  # last read is shown

    newer = make_feed(site, mine.id, "regenerate")
    assert reader.get(path_of(url)).status_code == 404  # the old address stops
    assert reader.get(path_of(newer)).status_code == 200
    r = site.post(f"/settings/feeds/{mine.id}", data={"action": "revoke", "csrf_token": csrf(site, "/settings/tokens")},
                  follow_redirects=False)
    assert r.status_code == 303
    r = reader.get(path_of(newer))
    assert r.status_code == 404 and "Mamba" not in r.text
    assert reader.get("/feeds/library/pf_nope.atom").status_code == 404
    assert reader.get("/feeds/library/hf_nope.rss").status_code == 404


def test_a_disabled_accounts_feed_stops(engine, site):
    uid = sign_in(site, engine, "ada")
    url = make_feed(site, library(engine, uid).id)
    assert client(engine).get(path_of(url)).status_code == 200
    with engine.begin() as conn:
        conn.execute(update(User.__table__).where(User.__table__.c.id == uid).values(disabled_at=datetime.now(UTC)))
    assert client(engine).get(path_of(url)).status_code == 404


def test_public_feed_and_privacy(engine, site):
    uid = sign_in(site, engine, "ada")
    mine = library(engine, uid)
    anon = client(engine)
    public = f"/feeds/u/ada/{mine.slug}.atom"
    assert anon.get(public).status_code == 404  # private by default
    other = client(engine)
    sign_in(other, engine, "bob")
    assert other.get(public).status_code == 404
    # bob cannot make a feed URL for ada's collection either
    assert other.post(f"/settings/feeds/{mine.id}", data={"csrf_token": csrf(other, "/settings/tokens")}).status_code == 404
    with engine.begin() as conn:
        coll.set_public(conn, uid, mine.id, True)
    r = anon.get(public)
    feed = feedparser.parse(r.content)
    assert r.status_code == 200 and not feed.bozo
    assert r.headers["Cache-Control"].startswith("public")
    assert feed.feed.link == f"{SITE}/u/ada/c/{mine.slug}"
    assert [e.title for e in feed.entries] == ["State spaces"] and "my private note" not in r.text
    assert anon.get("/feeds/u/ada/no-such.atom").status_code == 404
    assert anon.get("/feeds/u/a/x.atom").status_code == 400  # not a username
    assert anon.get(f"/feeds/u/ada/{mine.slug}.pdf").status_code == 400


def test_data_download_holds_everything_saved(engine, site):
    uid = sign_in(site, engine, "ada")
    library(engine, uid)
    add_vote(engine, uid, "2401.00001")
    with engine.begin() as conn:
        follows.follow_author(conn, uid, "Albert Gu")
        follows.follow_category(conn, uid, "cs.LG")
        tokens.create_token(conn, uid, name="script")
    assert client(engine).get("/settings/account/data.json", follow_redirects=False).status_code == 303
    r = site.get("/settings/account/data.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    data = json.loads(r.text)
    assert data["user"]["username"] == "ada"
    assert {p["arxiv_id"] for p in data["library"]["papers"]} == {"2401.00001", "2401.00002"}
    assert data["notes"] == [{"arxiv_id": "2401.00001", "note": "my private note"}]
    assert {c["name"] for c in data["collections"]} >= {"Reading list", "Mamba reading"}
    assert {(f["kind"], f["key"]) for f in data["follows"]} == {("author", "albert gu"), ("category", "cs.LG")}
    assert [v["arxiv_id"] for v in data["votes"]] == ["2401.00001"]
    assert [t["name"] for t in data["tokens"]] == ["script"] and "token_hash" not in r.text


def counts(engine, uid: int) -> dict[str, int]:
    with engine.connect() as conn:
        out = {}
        for model in (SavedPaper, Follow, AccessToken, Collection, Vote):
            table = model.__table__
            out[table.name] = conn.execute(select(func.count()).where(table.c.user_id == uid)).scalar_one()
        out["users"] = conn.execute(select(func.count()).where(User.__table__.c.id == uid)).scalar_one()
        out["collection_papers"] = conn.execute(select(func.count()).select_from(CollectionPaper.__table__)).scalar_one()
    return out


def test_delete_account_removes_library_notes_follows_and_tokens(engine, site):
    uid = sign_in(site, engine, "ada")
    mine = library(engine, uid)
    add_vote(engine, uid, "2401.00001")
    with engine.begin() as conn:
        follows.follow_author(conn, uid, "Albert Gu")
        api = tokens.create_token(conn, uid, name="script").token
    feed = path_of(make_feed(site, mine.id))
    assert all(counts(engine, uid).values())

    page = site.get("/settings/account")
    assert soup(page).find("form", action="/settings/account/delete")
    r = site.post("/settings/account/delete", data={"password": "wrong", "csrf_token": csrf(site, "/settings/account")})
    assert r.status_code == 400 and "nothing was deleted" in r.text
    assert site.post("/settings/account/delete", data={"password": "correct horse"}).status_code == 403  # no CSRF
    assert counts(engine, uid)["saved_papers"] == 2

    r = site.post("/settings/account/delete",
                  data={"password": "correct horse", "csrf_token": csrf(site, "/settings/account")}, follow_redirects=False)
    assert r.status_code == 303
    assert not any(counts(engine, uid).values()), counts(engine, uid)
    assert site.get("/settings/account", follow_redirects=False).status_code == 303  # signed out
    assert client(engine).get(feed).status_code == 404
    assert client(engine).get("/api/library/papers", headers={"Authorization": f"Bearer {api}"}).status_code == 401
