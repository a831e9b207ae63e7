"""
The discussion on a paper page in a real browser (issue #15): a comment with
`$a_1 * b_2 + c_3 * d_4$` math (rendered by KaTeX, never emphasis) and a
`<script>` / `<img onerror>` / `javascript:` payload (shown as text, no dialog,
no CSP violation), an edit, a reply, a report, a curator hiding the reported
comment from the moderation queue, and a delete that leaves "[deleted]" with
its reply in place.  Each person has their own browser context.  Screenshots:
test-artifacts/discussion*.png.
"""

from __future__ import annotations

import re

import pytest

from paperfeed.web import accounts
from paperfeed.web.app import create_app
from tests.browser.conftest import new_tab
from tests.server import serve
from tests.webdata import TODAY, add_paper

PAPER = "2610.05555"
MATH = "$a_1 * b_2 + c_3 * d_4$"
PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(2)> [click me](javascript:alert(3))"
PASSWORD = "correct horse battery"


@pytest.fixture
def site(engine):
    add_paper(engine, PAPER, "A bound on $\\epsilon$-nets", day=TODAY, upvotes=2,
              abstract="We show that $O(n \\log n)$ suffices.")
    for name, role in (("alice", "reader"), ("bob", "reader"), ("cora", "curator")):
        accounts.create_user(engine, name, PASSWORD, role=role)
    with serve(create_app(engine)) as base:
        yield base


@pytest.fixture
def people(browser, site):
    contexts = []

    def person(name: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        tab = new_tab(context, site)
        tab.goto(site + "/login")
        tab.get_by_label("Username").fill(name)
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        tab.wait_for_url(site + "/")
        return tab

    yield person
    for context in contexts:
        context.close()


def comment_by(tab, author: str, text: str):
    return tab.locator("article.comment").filter(has=tab.locator(".comment-author", has_text=author)).filter(has_text=text)


def test_comment_reply_edit_report_hide_and_delete(site, people, shots):
    paper = f"{site}/papers/{PAPER}"
    alice = people("alice")
    alice.goto(paper)
    assert alice.locator(".comment-count").inner_text() == "0 comments"
    alice.get_by_label("Add to the discussion").fill(f"Tight: {MATH}, see *the proof*.\n\n{PAYLOAD}")
    alice.get_by_role("button", name="Post comment").click()
    alice.wait_for_url(re.compile(r".*#comment-\d+$"))
    first = alice.locator("article.comment").first
    body = first.locator(".comment-body")
    body.locator(".katex").first.wait_for()  # KaTeX rendered the formula
    tex = body.locator("annotation[encoding='application/x-tex']").first.text_content()
    assert tex.strip() == "a_1 * b_2 + c_3 * d_4"  # one formula, not emphasis
    assert body.locator("em").all_inner_texts() == ["the proof"]
    assert body.locator("script, img, iframe").count() == 0
    assert body.locator("a").count() == 0  # the javascript: link is not a link
    text = body.inner_text()
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    assert "[click me](javascript:alert(3))" in text
    assert alice.locator(".comment-count").inner_text() == "1 comment"
    alice.screenshot(path=str(shots / "discussion-comment.png"), full_page=True)

    first.get_by_role("link", name="Edit").click()
    alice.get_by_role("textbox", name="Your comment").fill(f"Tight, and sharp: {MATH}.\n\n{PAYLOAD}")
    alice.get_by_role("button", name="Save").click()
    alice.wait_for_url(re.compile(r".*done=edited#comment-\d+$"))
    first = alice.locator("article.comment").first
    assert "(edited)" in first.locator(".comment-meta").inner_text()
    assert "and sharp" in first.locator(".comment-body").inner_text()
    first.locator(".comment-body .katex").first.wait_for()

    bob = people("bob")
    bob.goto(paper)
    top = comment_by(bob, "alice", "and sharp")
    top.locator("summary", has_text="Reply").click()
    top.get_by_label("Reply to alice").fill("Does it hold for $d > 3$?")
    top.get_by_role("button", name="Post reply").click()
    bob.wait_for_url(re.compile(r".*#comment-\d+$"))
    reply = bob.locator(".replies article.comment")
    assert reply.count() == 1 and "Does it hold" in reply.inner_text()
    reply.locator(".katex").first.wait_for()
    bob.get_by_label("Add to the discussion").fill("Buy cheap pills at https://spam.example")
    bob.get_by_role("button", name="Post comment").click()
    bob.wait_for_url(re.compile(r".*#comment-\d+$"))
    assert bob.locator(".comment-count").inner_text() == "3 comments"

    alice.goto(paper)
    spam = comment_by(alice, "bob", "cheap pills")
    spam.locator("summary", has_text="Report").click()
    spam.get_by_label("Why should a curator look at it?").fill("advertising")
    spam.get_by_role("button", name="Send report").click()
    alice.wait_for_url(re.compile(r".*done=reported.*"))
    assert "Thank you for the report" in alice.locator("#discussion .notice").inner_text()

    cora = people("cora")
    cora.get_by_role("link", name="Moderation").click()
    queued = cora.locator("article.reported")
    assert queued.count() == 1 and "cheap pills" in queued.inner_text() and "advertising" in queued.inner_text()
    cora.screenshot(path=str(shots / "discussion-moderation.png"), full_page=True)
    queued.get_by_role("button", name="Hide").click()
    cora.wait_for_url(re.compile(r".*/moderation\?done=hidden"))
    assert cora.locator("article.reported").count() == 0

    alice.goto(paper)
    assert "cheap pills" not in alice.locator("#discussion").inner_text()
    assert alice.locator(".comment-count").inner_text() == "2 comments"
    cora.goto(paper)  # curators still see it, marked
    assert "Hidden" in comment_by(cora, "bob", "cheap pills").inner_text()

    mine = comment_by(alice, "alice", "and sharp")
    mine.get_by_role("button", name="Delete").click()
    alice.wait_for_url(re.compile(r".*done=deleted#discussion$"))
    thread = alice.locator(".thread").first
    assert thread.locator("article.comment").first.inner_text().strip() == "[deleted]"
    assert "Does it hold" in thread.locator(".replies").inner_text()  # the reply keeps its place
    assert alice.locator(".comment-count").inner_text() == "1 comment"
    alice.screenshot(path=str(shots / "discussion-deleted.png"), full_page=True)

    for tab in (alice, bob, cora):
        assert tab.dialogs == []
        assert [p for p in tab.problems if "Content Security Policy" in p or "Refused" in p] == []


def test_comments_work_without_javascript(browser, site):
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(site + "/login")
    tab.get_by_label("Username").fill("bob")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.goto(f"{site}/papers/{PAPER}")
    tab.get_by_label("Add to the discussion").fill("Plain forms work.")
    tab.get_by_role("button", name="Post comment").click()  # a plain POST, then a redirect to the comment
    tab.wait_for_url(re.compile(r".*#comment-\d+$"))
    assert "Plain forms work." in tab.locator("article.comment").first.inner_text()
    context.close()
