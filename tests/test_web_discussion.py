"""The discussion on paper pages through the real app: posting (once per form), replies,
edits within the window, deletion, hiding, reports and the moderation queue, rate limits,
bad forms, counts on cards, in the API and in the discussion feed (read by feedparser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from paperfeed.discussion import comments as talk
from paperfeed.library import account
from paperfeed.models import Comment, CommentReport
from paperfeed.web import discussion_pages
from paperfeed.web.app import create_app
from tests.webdata import TODAY, add_paper, csrf, sign_in, soup

PAPER = "2610.00001"
OTHER = "2610.00002"
MATH = "$a_1 * b_2 + c_3 * d_4$"
comments = Comment.__table__
reports = CommentReport.__table__


@pytest.fixture
def site(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_SITE_URL", "https://papers.example.org")
    add_paper(engine, PAPER, "Listed today", day=TODAY, upvotes=4)
    add_paper(engine, OTHER, "Also today", day=TODAY, upvotes=1)
    APPS[id(engine)] = create_app(engine)
    yield engine
    APPS.pop(id(engine))


APPS: dict = {}  # one app per test, a browser (client) per person


def client(engine) -> TestClient:
    return TestClient(APPS[id(engine)], raise_server_exceptions=False)


def reader(engine, name="reader", role="reader"):
    c = client(engine)
    c.user_id = sign_in(c, engine, name, role)
    return c


def comment_form(c, arxiv_id=PAPER, parent: int | None = None, path: str | None = None) -> dict:
    """The fields of the comment form (or the reply form under comment `parent`) as the page has them."""
    page = soup(c.get(path or f"/papers/{arxiv_id}"))
    for form in page.select("form.comment-form"):
        fields = {i["name"]: i.get("value", "") for i in form.select("input")}
        if fields.get("parent_id") == (str(parent) if parent else None) or (parent is None and "parent_id" not in fields):
            return fields
    raise AssertionError(f"no comment form for parent {parent}")


def post(c, body, page=PAPER, parent=None, **changes):
    """Post the comment form of `page` (the reply form under `parent`), with `changes` to its fields."""
    data = {**comment_form(c, page, parent), "body": body, **changes}
    return c.post("/comments", data=data, follow_redirects=False)


def stored(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(comments).order_by(comments.c.id)).all()


def shown_ids(c, arxiv_id=PAPER) -> list[int]:
    return [int(a["id"].removeprefix("comment-")) for a in soup(c.get(f"/papers/{arxiv_id}")).select("article.comment")]


def page_count(c, arxiv_id=PAPER) -> int:
    return int(soup(c.get(f"/papers/{arxiv_id}")).select_one(".comment-count")["data-count"])


def test_a_comment_with_math_and_payloads_is_posted_and_rendered_safely(site):
    c = reader(site)
    body = f"Nice bound: {MATH}. <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    r = post(c, body)
    (row,) = stored(site)
    assert (r.status_code, r.headers["location"]) == (303, f"/papers/{PAPER}?done=posted#comment-{row.id}")
    assert row.body == body and row.user_id == c.user_id  # the source, as written
    page = soup(c.get(r.headers["location"]))
    assert "Your comment is posted." in page.select_one("#discussion .notice").get_text()
    shown = page.select_one(f"#comment-{row.id} .comment-body")
    assert shown.select_one("span.math").get_text() == r"\(a_1 * b_2 + c_3 * d_4\)"
    assert shown.select("em, script, img") == [] and shown.select("a") == []
    assert "<script>alert(1)</script>" in shown.get_text()  # the payload shows as text
    assert page.select_one(f"#comment-{row.id} .comment-author").get_text() == "reader"


def test_the_same_form_posted_twice_stores_one_comment(site):
    c = reader(site)
    data = {**comment_form(c), "body": "First!"}
    first = c.post("/comments", data=data, follow_redirects=False)
    again = c.post("/comments", data=data, follow_redirects=False)  # a double click, a retry
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert len(stored(site)) == 1
    post(c, "First!")  # a new form (a new key) is a new comment, even with the same text
    assert len(stored(site)) == 2


def test_two_posts_racing_with_one_key_store_one_comment(site, monkeypatch):
    """The unique key is the last word: a post that saw no comment yet finds the other's."""
    uid = reader(site).user_id
    key = talk.new_key()
    first, new = talk.post(site, uid, PAPER, "hello", key)
    looked = []
    real = talk._by_key

    def not_yet(conn, user_id, k):  # the other request had not committed when this one looked
        looked.append(k)
        return None if len(looked) == 1 else real(conn, user_id, k)

    monkeypatch.setattr(talk, "_by_key", not_yet)
    second, again = talk.post(site, uid, PAPER, "hello", key)
    assert (new, again, second.id) == (True, False, first.id)
    assert len(stored(site)) == 1


def test_a_reply_to_a_reply_joins_the_top_comment(site):
    alice, bob = reader(site, "alice"), reader(site, "bob")
    post(alice, "Top comment")
    top = stored(site)[0].id
    r = post(bob, "A reply", parent=top)
    reply = stored(site)[1]
    assert reply.parent_id == top
    assert r.headers["location"] == f"/papers/{PAPER}?done=posted#comment-{reply.id}"
    post(alice, "A reply to the reply", parent=reply.id)
    assert stored(site)[2].parent_id == top  # one level only
    page = soup(alice.get(f"/papers/{PAPER}"))
    thread = page.select_one(f"#thread-{top}")
    assert [a["id"] for a in thread.select(".replies article.comment")] == [f"comment-{reply.id}", f"comment-{stored(site)[2].id}"]


def test_a_reply_must_answer_a_comment_on_the_same_paper(site):
    c = reader(site)
    post(c, "On the first paper")
    top = stored(site)[0].id
    r = post(c, "Misplaced", page=OTHER, parent_id=str(top))
    assert r.status_code == 404
    assert post(c, "To nothing", parent_id="999999").status_code == 404
    assert post(c, "Not a number", parent_id="abc").status_code == 400
    assert post(c, "Too large a number", parent_id=str(2**70)).status_code == 400
    for path in (f"/comments/{2**70}", "/comments/0", "/comments/abc", f"/comments/{2**40}/edit"):
        assert c.get(path).status_code == 400, path
    assert c.post(f"/comments/{2**70}/report", data={"csrf_token": csrf(c, "/")}).status_code == 400
    assert c.get("/comments/2147483647").status_code == 404
    assert len(stored(site)) == 1


def test_bad_forms_are_refused_with_the_text_kept(site, monkeypatch):
    monkeypatch.setenv("PAPERFEED_COMMENT_MAX_CHARS", "100")
    c = reader(site)
    r = post(c, "   \n  ")
    assert r.status_code == 422 and "empty" in soup(r).select_one(".error").get_text()
    long = "x" * 101
    r = post(c, long)
    assert r.status_code == 422
    assert "at most 100 characters" in soup(r).select_one(".error").get_text()
    assert soup(r).select_one("textarea[name=body]").get_text() == long  # nothing lost
    assert post(c, "a NUL \x00 cannot be stored").status_code == 422
    r = post(c, "no key", key="")
    assert r.status_code == 422 and "key" in soup(r).select_one(".error").get_text()
    assert post(c, "bad paper", arxiv_id="not an id").status_code == 400
    assert post(c, "unknown paper", arxiv_id="2610.99999").status_code == 404
    assert stored(site) == []
    assert "Traceback" not in r.text


def test_posting_needs_a_session_and_its_csrf_token(site):
    c = client(site)
    r = c.post("/comments", data={"arxiv_id": PAPER, "body": "hi", "key": talk.new_key(), "csrf_token": csrf(c, f"/papers/{PAPER}")},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    signed = reader(site)
    r = post(signed, "forged", csrf_token="wrong")
    assert r.status_code == 403
    assert stored(site) == []
    assert "Log in" in soup(c.get(f"/papers/{PAPER}")).select_one("#discussion").get_text()


def test_rate_limits_per_user_and_per_address_keep_the_text(site, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_COMMENT", "2/600")
    c = reader(site)
    assert [post(c, f"comment {i}").status_code for i in range(2)] == [303, 303]
    r = post(c, "one too many")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert soup(r).select_one("textarea[name=body]").get_text() == "one too many"
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_COMMENT", "100/600")
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_COMMENT_ADDRESS", "3/600")  # counts every user at one address
    other = reader(site, "other")  # the same test client address
    assert post(other, "third from this address").status_code == 303
    assert post(other, "fourth from this address").status_code == 429
    assert len(stored(site)) == 3


def test_authors_edit_within_the_window(site, monkeypatch):
    monkeypatch.setenv("PAPERFEED_COMMENT_EDIT_MINUTES", "30")
    alice, bob = reader(site, "alice"), reader(site, "bob")
    post(alice, "Frist")
    cid = stored(site)[0].id
    assert bob.get(f"/comments/{cid}/edit").status_code == 403
    assert "Edit" not in [a.get_text() for a in soup(bob.get(f"/papers/{PAPER}")).select(f"#comment-{cid} a")]
    form = soup(alice.get(f"/comments/{cid}/edit"))
    assert form.select_one("textarea[name=body]").get_text() == "Frist"
    r = alice.post(f"/comments/{cid}/edit", data={"body": "First, with $x^2$", "csrf_token": csrf(alice, f"/comments/{cid}/edit")},
                   follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/papers/{PAPER}?done=edited#comment-{cid}")
    row = stored(site)[0]
    assert row.body == "First, with $x^2$" and row.edited_at is not None and 'class="math"' in row.html
    assert "(edited)" in soup(alice.get(f"/papers/{PAPER}")).select_one(f"#comment-{cid}").get_text()
    r = alice.post(f"/comments/{cid}/edit", data={"body": "", "csrf_token": csrf(alice, "/")})
    assert r.status_code == 422 and stored(site)[0].body == "First, with $x^2$"
    r = bob.post(f"/comments/{cid}/edit", data={"body": "mine now", "csrf_token": csrf(bob, "/")})
    assert r.status_code == 403
    with site.begin() as conn:  # the window passes
        conn.execute(update(comments).values(created_at=datetime.now(UTC) - timedelta(minutes=31)))
    assert alice.get(f"/comments/{cid}/edit").status_code == 403
    r = alice.post(f"/comments/{cid}/edit", data={"body": "too late", "csrf_token": csrf(alice, "/")})
    assert r.status_code == 403 and "30 minutes" in r.text
    assert stored(site)[0].body == "First, with $x^2$"


def test_deleting_keeps_the_place_of_a_comment_with_replies(site):
    alice, bob = reader(site, "alice"), reader(site, "bob")
    post(alice, "Top")
    top = stored(site)[0].id
    post(bob, "Reply", parent=top)
    reply = stored(site)[1].id
    assert page_count(alice) == 2
    assert bob.post(f"/comments/{top}/delete", data={"csrf_token": csrf(bob, "/")}).status_code == 403
    r = alice.post(f"/comments/{top}/delete", data={"csrf_token": csrf(alice, "/")}, follow_redirects=False)
    assert r.headers["location"] == f"/papers/{PAPER}?done=deleted#discussion"
    row = stored(site)[0]
    assert (row.body, row.html, row.user_id) == ("", "", None) and row.deleted_at is not None
    page = soup(bob.get(f"/papers/{PAPER}"))
    assert page.select_one(f"#comment-{top}").get_text().strip() == "[deleted]"
    assert "Top" not in page.select_one("#discussion").get_text()
    assert page.select_one(f"#thread-{top} #comment-{reply}") is not None  # the reply keeps its place
    assert page_count(bob) == 1
    assert bob.get(f"/comments/{top}").status_code == 200  # the thread, with its placeholder
    bob.post(f"/comments/{reply}/delete", data={"csrf_token": csrf(bob, "/")})
    assert stored(site) == []  # the last reply gone, the emptied thread goes too
    assert bob.get(f"/comments/{top}").status_code == 404


def test_a_comment_without_replies_is_deleted_outright(site):
    c = reader(site)
    post(c, "Oops")
    cid = stored(site)[0].id
    c.post(f"/comments/{cid}/delete", data={"csrf_token": csrf(c, "/")})
    assert stored(site) == [] and shown_ids(c) == []
    assert c.post(f"/comments/{cid}/delete", data={"csrf_token": csrf(c, "/")}).status_code == 404


def test_curators_hide_and_a_hidden_comment_is_404_to_everyone_else(site):
    alice, bob, curator = reader(site, "alice"), reader(site, "bob"), reader(site, "cora", "curator")
    visitor = client(site)
    post(alice, "Spam spam spam")
    cid = stored(site)[0].id
    post(alice, "A good one")
    r = bob.post(f"/comments/{cid}/moderate", data={"action": "hide", "csrf_token": csrf(bob, "/")})
    assert r.status_code == 403
    r = curator.post(f"/comments/{cid}/moderate", data={"action": "vanish", "csrf_token": csrf(curator, "/")})
    assert r.status_code == 400
    r = curator.post(f"/comments/{cid}/moderate", data={"action": "hide", "csrf_token": csrf(curator, "/"), "next": f"/papers/{PAPER}"},
                     follow_redirects=False)
    assert r.headers["location"] == f"/papers/{PAPER}?done=hidden"
    for who in (alice, bob, visitor):
        assert cid not in shown_ids(who)
        assert "Spam" not in who.get(f"/papers/{PAPER}").text
        assert who.get(f"/comments/{cid}").status_code == 404
        assert page_count(who) == 1
    assert post(bob, "replying to spam", parent=None, parent_id=str(cid)).status_code == 404
    assert bob.post(f"/comments/{cid}/report", data={"csrf_token": csrf(bob, "/")}).status_code == 404
    page = soup(curator.get(f"/papers/{PAPER}"))
    assert "Hidden" in page.select_one(f"#comment-{cid}").get_text()
    assert curator.get(f"/comments/{cid}").status_code == 200
    assert page_count(curator) == 1  # the count is of visible comments, whoever looks
    curator.post(f"/comments/{cid}/moderate", data={"action": "unhide", "csrf_token": csrf(curator, "/")})
    assert cid in shown_ids(bob) and page_count(bob) == 2


def test_reports_go_once_to_the_curators_queue(site):
    alice, bob, carol = (reader(site, n) for n in ("alice", "bob", "carol"))
    curator = reader(site, "cora", "curator")
    post(alice, "Rude words")
    post(alice, "Fine words")
    rude, fine = (r.id for r in stored(site))

    def report(c, cid, reason=""):
        return c.post(f"/comments/{cid}/report", data={"reason": reason, "next": f"/papers/{PAPER}", "csrf_token": csrf(c, "/")},
                      follow_redirects=False)

    assert report(bob, rude, "insult\x00ing").headers["location"] == f"/papers/{PAPER}?done=reported"
    assert report(bob, rude).headers["location"] == f"/papers/{PAPER}?done=reported-before"
    report(carol, rude, "rude")
    report(carol, fine)
    assert report(alice, rude).status_code == 403  # not one's own
    with site.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reports)).scalar() == 3
    assert bob.get("/moderation").status_code == 403
    assert client(site).get("/moderation", follow_redirects=False).headers["location"].startswith("/login")
    queue = soup(curator.get("/moderation"))
    assert [a["id"] for a in queue.select("article.reported")] == [f"reported-{rude}", f"reported-{fine}"]  # most reported first
    assert [li.get_text() for li in queue.select(f"#reported-{rude} .reasons li")] == ["insulting", "rude"]
    assert "Moderation" in queue.select_one(".main-nav").get_text()
    r = curator.post(f"/comments/{fine}/moderate", data={"action": "dismiss", "next": "/moderation", "csrf_token": csrf(curator, "/")},
                     follow_redirects=False)
    assert r.headers["location"] == "/moderation?done=dismissed"
    curator.post(f"/comments/{rude}/moderate", data={"action": "hide", "next": "/moderation", "csrf_token": csrf(curator, "/")})
    assert soup(curator.get("/moderation")).select("article.reported") == []
    assert shown_ids(bob) == [fine]
    with site.connect() as conn:
        closed = dict(conn.execute(select(reports.c.comment_id, reports.c.resolution)).all())
    assert closed == {rude: "hidden", fine: "dismissed"}
    assert report(carol, fine).headers["location"].endswith("done=reported-before")  # a dismissed report stays closed


def test_counts_on_cards_in_the_api_and_in_the_feed_match_the_page(site):
    alice, bob, curator = reader(site, "alice"), reader(site, "bob"), reader(site, "cora", "curator")
    post(alice, f"First with {MATH}")
    top = stored(site)[0].id
    post(bob, "A reply", parent=top)
    post(bob, "To be hidden")
    post(alice, "To be deleted")
    hidden, deleted = stored(site)[2].id, stored(site)[3].id
    curator.post(f"/comments/{hidden}/moderate", data={"action": "hide", "csrf_token": csrf(curator, "/")})
    alice.post(f"/comments/{deleted}/delete", data={"csrf_token": csrf(alice, "/")})
    visitor = client(site)
    assert page_count(visitor) == 2
    cards = {card["id"]: card for card in soup(visitor.get("/")).select("article.card")}
    assert cards[f"paper-{PAPER}"].select_one(".comments-link").get_text() == "2 comments"
    assert cards[f"paper-{OTHER}"].select_one(".comments-link") is None
    items = {i["paper"]["id"]: i for i in visitor.get("/api/daily_papers").json()}
    assert (items[PAPER]["numComments"], items[OTHER]["numComments"]) == (2, 0)
    assert items[PAPER]["paper"]["numComments"] == 2
    assert visitor.get(f"/api/papers/{PAPER}").json()["numComments"] == 2
    feed = feedparser.parse(visitor.get(f"/feeds/discussion/{PAPER}.atom", headers={"Host": "evil.example"}).content)
    assert feed.bozo == 0 and len(feed.entries) == page_count(visitor)
    assert [e.title for e in feed.entries] == ["Reply by bob", "Comment by alice"]  # newest first
    assert feed.entries[1].link == f"https://papers.example.org/comments/{top}"
    assert 'class="math"' in feed.entries[1].content[0].value
    assert feed.feed.link == f"https://papers.example.org/papers/{PAPER}#discussion"
    assert "evil.example" not in visitor.get(f"/feeds/discussion/{PAPER}.atom", headers={"Host": "evil.example"}).text


def test_the_feed_of_an_unknown_paper_is_a_json_404(site):
    c = client(site)
    for path in ("/feeds/discussion/2610.99999.atom", "/feeds/discussion/not-an-id.atom"):
        r = c.get(path)
        assert r.status_code == 404 and r.json() == {"error": "Paper not found"}
    r = c.get(f"/feeds/discussion/{PAPER}.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    assert c.get(f"/feeds/discussion/{PAPER}.atom", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304


def test_long_discussions_are_paged_to_a_bounded_depth(site, monkeypatch):
    monkeypatch.setattr(discussion_pages, "THREADS_PER_PAGE", 2)
    monkeypatch.setattr(discussion_pages, "REPLIES_SHOWN", 2)
    c = reader(site)
    for i in range(5):
        r = post(c, f"thread {i}")
    last = stored(site)[-1].id
    assert r.headers["location"] == f"/papers/{PAPER}?cp=3&done=posted#comment-{last}"  # the page it is on
    assert shown_ids(c) == [r.id for r in stored(site)[:2]]
    page3 = soup(c.get(f"/papers/{PAPER}?cp=3"))
    assert [a["id"] for a in page3.select("article.comment")] == [f"comment-{last}"]
    assert "Page 3 of 3" in page3.select_one("#discussion .pager").get_text()
    assert c.get(f"/papers/{PAPER}?cp=4").status_code == 404
    assert c.get(f"/papers/{PAPER}?cp={discussion_pages.MAX_THREAD_PAGE + 1}").status_code == 400
    top = stored(site)[0].id
    for i in range(3):
        r = post(c, f"reply {i}", parent=top)
    third = stored(site)[-1].id
    assert r.headers["location"] == f"/comments/{top}?p=1&done=posted#comment-{third}"  # past what the paper page shows
    thread = soup(c.get(f"/papers/{PAPER}")).select_one(f"#thread-{top}")
    assert len(thread.select(".replies article.comment")) == 2
    assert thread.select_one(".more-replies a")["href"] == f"/comments/{top}"
    own = soup(c.get(f"/comments/{top}"))
    assert len(own.select(".replies article.comment")) == 3
    assert c.get(f"/comments/{top}?p=2").status_code == 404
    assert c.get(f"/comments/{top}?p={discussion_pages.MAX_REPLY_PAGE + 1}").status_code == 400
    assert c.get(f"/comments/{third}").status_code == 200  # a reply's page is its thread's


def test_a_deleted_account_leaves_its_replies_thread_in_place(site):
    alice, bob = reader(site, "alice"), reader(site, "bob")
    post(alice, "Alice's top")
    top = stored(site)[0].id
    post(bob, "Bob replies", parent=top)
    post(alice, "Alice's own reply", parent=top)
    post(alice, "Alice alone")
    bob.post(f"/comments/{top}/report", data={"csrf_token": csrf(bob, "/")})
    with site.begin() as conn:
        assert [c["body"] for c in account.export_user_data(conn, alice.user_id)["comments"]] == [
            "Alice's top", "Alice's own reply", "Alice alone"]
        account.delete_user(conn, alice.user_id)
    rows = stored(site)
    assert [(r.id == top, r.body, r.user_id) for r in rows] == [(True, "", None), (False, "Bob replies", bob.user_id)]
    assert page_count(bob) == 1
    with site.connect() as conn:
        assert conn.execute(select(func.count()).select_from(reports)).scalar() == 0
