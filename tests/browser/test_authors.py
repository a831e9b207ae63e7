"""
Authors and following in a real browser (issue #13): sign up, open a paper,
click an author's name, follow them on their page (htmx swaps the button), and
find the follow on `/library/follows` and the library page; follow a category from the paper
page's chip.  Screenshot: test-artifacts/author.png.
"""

from __future__ import annotations

import pytest

from paperfeed.ingest.run import ingest_sources
from paperfeed.ops.demo import sample_files
from paperfeed.web.app import create_app
from tests.server import serve

PAPER = "0704.0002"


@pytest.fixture
def site(engine):
    assert ingest_sources([str(p) for p in sample_files()], engine=engine).exit_status == 0
    with serve(create_app(engine)) as base:
        yield base


def test_follow_an_author_from_a_paper_page(browser, site, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(site + "/signup")
    page.get_by_label("Username").fill("follower")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(site + "/")

    page.goto(f"{site}/papers/{PAPER}")
    first = page.locator(".paper-head .authors a").first
    name = first.inner_text()
    first.click()
    page.wait_for_url("**/authors/**")
    assert page.locator("h1").inner_text() == name
    assert page.locator(".author-papers a.title").count() >= 1
    assert "namesakes with the same full name are merged" in page.locator(".namesakes").inner_text()
    button = page.locator(".author-actions .follow-button")
    assert button.get_attribute("aria-pressed") == "false"
    button.click()  # htmx swaps the form in place
    page.wait_for_selector('.author-actions .follow-button[aria-pressed="true"]')
    assert "/authors/" in page.url
    page.screenshot(path=str(shots / "author.png"), full_page=True)
    page.reload()
    assert page.locator(".author-actions .follow-button").get_attribute("aria-pressed") == "true"

    page.goto(f"{site}/papers/{PAPER}")
    chip = page.locator(".paper-side form.follow .follow-button").first
    chip.click()
    page.wait_for_selector('.paper-side .follow-button[aria-pressed="true"]')

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="What you follow").click()
    page.wait_for_url("**/library/follows")
    listed = page.locator(".follow-list").all_inner_texts()
    assert name in listed[0] and len(listed) == 2
    page.screenshot(path=str(shots / "follows.png"))
    page.get_by_role("link", name="Library", exact=True).click()  # the library page lists them too
    page.wait_for_url("**/library")
    assert page.locator(".following li").count() == 2 and name in page.locator(".following").inner_text()
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    context.close()
