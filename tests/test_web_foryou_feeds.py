"""
"For you" outside the page (issue #14): the secret feed read by feedparser
(RSS and Atom, ranked items with their why-lines escaped, links from the site
URL, 404 once revoked or regenerated), and `GET /api/foryou` with an access
token (401 without one, each reader sees only their own ranking), its items
read by the real `huggingface_hub` client as `PaperInfo`.
"""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import PaperInfo
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from paperfeed.library import saved, tokens
from paperfeed.web import hf_json
from paperfeed.web.foryou_api import ForYouItem
from tests.foryou_support import NOW, OLD, SAVED, TOPIC, load, save_library
from tests.server import serve
from tests.webdata import add_paper, client, csrf, sign_in, soup

search = pytest.importorskip("paperfeed.search")

SITE = "https://papers.example.org"
HOSTILE = "2301.00009"  # a saved paper whose title is markup
HOSTILE_TITLE = "<script>alert(1)</script> Selective State Spaces & Long Context"
SAVED_IDS = {p[0] for p in SAVED} | {HOSTILE}


@pytest.fixture
def site(engine, data_dir, monkeypatch):
    monkeypatch.setenv("PAPERFEED_SITE_URL", SITE)  # links come from siteurl, never from the request
    # close to the first on-topic paper, so its why-line names this title
    add_paper(engine, HOSTILE, HOSTILE_TITLE, published=OLD - timedelta(days=1),
              abstract="A selective state space model scales sequence modeling to long contexts with a parallel scan.")
    load(engine)
    return client(engine)


def library(engine, uid: int) -> None:
    save_library(engine, uid)
    with engine.begin() as conn:
        saved.save(conn, uid, HOSTILE)


def make_feed(c, action: str = "create") -> str:
    page = c.post("/settings/foryou-feed", data={"action": action, "csrf_token": csrf(c, "/settings/tokens")})
    assert page.status_code == 200, page.text
    return soup(page).find(id="new-foryou-atom").get_text()


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_the_feed_read_by_feedparser_then_revoked(engine, site):
    uid = sign_in(site, engine, "ada")
    library(engine, uid)
    url = make_feed(site)
    assert url.startswith(SITE + "/feeds/foryou/pf_") and url.endswith(".atom")
    reader = client(engine)  # a feed reader: no cookie
    r = reader.get(path_of(url), headers={"Host": "evil.example"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    assert r.headers["Cache-Control"] == "private, no-cache" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "evil.example" not in r.text
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "For you · ada"
    links = [e.link for e in feed.entries]
    assert {link.removeprefix(SITE + "/papers/") for link in links[:3]} == TOPIC, links
    assert not {link.removeprefix(SITE + "/papers/") for link in links} & SAVED_IDS
    assert "in your library" in feed.entries[0].summary
    # the saved papers a why-line names are linked, their titles escaped
    first = next(e for e in feed.entries if f'href="{SITE}/papers/{HOSTILE}"' in e.summary)
    assert "<script" not in first.summary and "&lt;script&gt;alert(1)&lt;/script&gt;" in first.summary
    assert "<script" not in r.text  # escaped in the document too, not only after feedparser's sanitiser

    rss_r = reader.get(path_of(url).replace(".atom", ".rss"))
    rss = feedparser.parse(rss_r.content)
    assert not rss.bozo and [e.link for e in rss.entries] == links
    assert "in your library" in rss.entries[0].description and "<script" not in rss_r.text
    month = feedparser.parse(reader.get(path_of(url) + "?window=month").content)
    assert [e.link for e in month.entries] == links  # every paper of the window is in this week
    assert reader.get(path_of(url) + "?window=year").status_code == 400
    assert "not read yet" not in site.get("/settings/tokens").text  # last read is shown

    newer = make_feed(site, "regenerate")
    assert reader.get(path_of(url)).status_code == 404  # the old address stops
    assert reader.get(path_of(newer)).status_code == 200
    r = site.post("/settings/foryou-feed", data={"action": "revoke", "csrf_token": csrf(site, "/settings/tokens")},
                  follow_redirects=False)
    assert r.status_code == 303
    gone = reader.get(path_of(newer))
    assert gone.status_code == 404 and "Selective" not in gone.text
    assert reader.get("/feeds/foryou/pf_nope.atom").status_code == 404
    assert site.post("/settings/foryou-feed", data={"action": "bogus", "csrf_token": csrf(site, "/settings/tokens")}
                     ).status_code == 400
    assert site.post("/settings/foryou-feed", data={"action": "create"}).status_code == 403  # no CSRF token


def test_other_tokens_do_not_open_the_feed(engine, site):
    uid = sign_in(site, engine, "ada")
    library(engine, uid)
    with engine.begin() as conn:
        api = tokens.create_token(conn, uid, "api").token
        mine = tokens.feed_token(conn, uid).token
    assert client(engine).get(f"/feeds/foryou/{api}.atom").status_code == 404  # an API token is not a feed
    assert client(engine).get(f"/feeds/library/{mine}.atom").status_code == 404  # nor a collection's feed
    assert client(engine).get(f"/feeds/foryou/{mine}.atom").status_code == 200


def api_token(engine, uid: int) -> str:
    with engine.begin() as conn:
        return tokens.create_token(conn, uid, "api", name="test").token


def test_the_api_with_a_token(engine, site):
    uid = sign_in(site, engine, "ada")
    library(engine, uid)
    h = {"Authorization": f"Bearer {api_token(engine, uid)}"}
    r = site.get("/api/foryou", headers=h)
    assert r.status_code == 200, r.text
    items = r.json()
    assert {i["paper"]["id"] for i in items[:3]} == TOPIC
    assert not {i["paper"]["id"] for i in items} & SAVED_IDS
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    titles = dict((p[0], p[1]) for p in SAVED) | {HOSTILE: HOSTILE_TITLE}
    for i in items:
        ForYouItem.model_validate(i)
        hf_json.HFListItem.model_validate(i)
        for near in i["near"]:
            assert near["id"] in SAVED_IDS and near["title"] == titles[near["id"]]
    first = items[0]
    assert first["near"] and first["why"][0].startswith("Close to ") and "in your library" in first["why"][0]
    assert all(f"“{n['title']}”" in first["why"][0] for n in first["near"])
    # the paper in the shape the other endpoints give it
    assert first["paper"] == site.get(f"/api/papers/{first['paper']['id']}").json()

    page = site.get("/api/foryou?limit=2", headers=h)
    assert [i["paper"]["id"] for i in page.json()] == [i["paper"]["id"] for i in items[:2]]
    assert page.headers["Link"] == f'<{SITE}/api/foryou?window=week&gems=0&limit=2&p=1>; rel="next"'
    second = site.get("/api/foryou?limit=2&p=1", headers=h).json()
    assert [i["paper"]["id"] for i in second] == [i["paper"]["id"] for i in items[2:4]]
    assert site.get("/api/foryou?limit=2&p=499", headers=h).json() == []  # past the depth: empty
    gems = site.get("/api/foryou?gems=1", headers=h).json()
    assert [i["paper"]["id"] for i in gems] != [i["paper"]["id"] for i in items]
    assert any("Few upvotes yet" in line for line in gems[0]["why"])
    for query in ("window=year", "gems=2", "limit=0", "limit=101", "p=-1", "p=500", "limit=5&limit=6"):
        bad = site.get(f"/api/foryou?{query}", headers=h)
        assert bad.status_code == 400 and bad.json()["error"], query


def test_the_api_needs_the_readers_own_token(engine, site):
    ada = sign_in(site, engine, "ada")
    library(engine, ada)
    r = site.get("/api/foryou")  # signed in, but the session cookie opens nothing here
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    bad = site.get("/api/foryou", headers={"Authorization": "Bearer pf_nope"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    with engine.begin() as conn:
        feed = tokens.feed_token(conn, ada).token
    assert site.get("/api/foryou", headers={"Authorization": f"Bearer {feed}"}).status_code == 401

    other = client(engine)
    bob = sign_in(other, engine, "bob")
    bob_h = {"Authorization": f"Bearer {api_token(engine, bob)}"}
    assert other.get("/api/foryou", headers=bob_h).json() == []  # nothing saved: nothing ranked for bob
    with engine.begin() as conn:
        saved.save(conn, bob, "2611.00005")  # bob reads about proteins
    ada_h = {"Authorization": f"Bearer {api_token(engine, ada)}"}
    site.post("/for-you/dismiss", data={"arxiv_id": "2611.00002", "csrf_token": csrf(site, "/for-you")})
    ada_items = site.get("/api/foryou", headers=ada_h).json()
    bob_items = other.get("/api/foryou", headers=bob_h).json()
    assert "2611.00002" not in {i["paper"]["id"] for i in ada_items}  # ada's dismissal
    assert "2611.00002" in {i["paper"]["id"] for i in bob_items}  # is not bob's
    assert "2611.00005" in {i["paper"]["id"] for i in ada_items}
    assert "2611.00005" not in {i["paper"]["id"] for i in bob_items}  # bob's library is his
    for i in bob_items:
        assert {n["id"] for n in i["near"]} <= {"2611.00005"}  # never names ada's papers


def test_huggingface_hub_reads_the_items(engine, site, monkeypatch):
    uid = sign_in(site, engine, "ada")
    library(engine, uid)
    token = api_token(engine, uid)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # our server is not the Hub
    with serve(site.app) as url:
        api = HfApi(endpoint=url, token=token)
        answer = get_session().get(f"{api.endpoint}/api/foryou", headers=build_hf_headers(token=api.token))
        hf_raise_for_status(answer)
        papers = [PaperInfo(**item) for item in answer.json()]
        assert {p.id for p in papers[:3]} == TOPIC
        first = papers[0]
        assert first.title and first.summary and first.authors and first.published_at.date() <= NOW.date()
        assert first.why and isinstance(first.score, float) and first.near  # our fields kept as attributes
        denied = get_session().get(f"{api.endpoint}/api/foryou", headers=build_hf_headers(token=False))
        with pytest.raises(HfHubHTTPError, match="access token"):
            hf_raise_for_status(denied)


def test_503_before_the_index_is_built(engine, data_dir):
    add_paper(engine, "2611.00001", "A paper", published=NOW - timedelta(hours=2))
    c = client(engine)
    uid = sign_in(c, engine)
    with engine.begin() as conn:
        api = tokens.create_token(conn, uid, "api").token
        feed = tokens.feed_token(conn, uid).token
    r = c.get("/api/foryou", headers={"Authorization": f"Bearer {api}"})
    assert r.status_code == 503 and "paperfeed index" in r.json()["error"]
    r = client(engine).get(f"/feeds/foryou/{feed}.rss")
    assert r.status_code == 503 and "paperfeed index" in r.json()["error"]
