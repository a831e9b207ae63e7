"""
The site in a real browser: browse a day and page back, search, open a paper
(math rendered by KaTeX), sign up, upvote (htmx), submit a paper whose metadata
comes from a replayed arXiv API answer; a hostile title stays text (no dialog
ever opens, no CSP violation is reported).  Screenshots: test-artifacts/.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from paperfeed.ingest.run import ingest_sources
from paperfeed.ops.demo import sample_files
from paperfeed.web.app import create_app
from tests.replay import ReplayServer
from tests.server import serve
from tests.webdata import add_paper

SAMPLE_DAY = date(2026, 10, 3)
EARLIER_DAY = date(2026, 10, 1)
XSS_TITLE = "<script>alert(1)</script> Robust <img src=x onerror=alert(1)> parsing"
ARXIV_FIXTURE = "arxiv-api/id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml"


@pytest.fixture
def site(engine, monkeypatch):
    summary = ingest_sources([str(p) for p in sample_files()], engine=engine)
    assert summary.exit_status == 0
    add_paper(engine, "2610.09999", XSS_TITLE, day=SAMPLE_DAY, upvotes=42,
              authors=["<img src=x onerror=alert(2)>", "Mallory"], abstract="We parse $x < y$ safely. <b>bold?</b>")
    add_paper(engine, "2610.08888", "An earlier list's paper on $\\mathcal{O}(n \\log n)$ sorting",
              day=EARLIER_DAY, upvotes=3, published=datetime(2026, 9, 29, tzinfo=UTC))
    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "0")
    monkeypatch.setenv("PAPERFEED_SUBMIT_MAX_AGE_DAYS", "100000")
    with ReplayServer() as arxiv:
        arxiv.add("/api/query", ARXIV_FIXTURE, query={"id_list": "1707.08567"})
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", arxiv.url("/api/query"))
        with serve(create_app(engine)) as base:
            yield base



def test_reader_journey(page, shots):
    base = page.base
    page.goto(base + "/")
    assert "3 October 2026" in page.locator("h1").inner_text()
    first = page.locator("article.card").first
    assert first.locator(".card-title").inner_text() == XSS_TITLE  # shown as text, top by upvotes
    assert page.locator("article.card img").count() == 0
    page.screenshot(path=str(shots / "daily.png"))

    page.get_by_role("link", name=re.compile("1 Oct 2026")).click()
    page.wait_for_url(f"**/papers/date/{EARLIER_DAY}")
    assert page.locator(".card-title .katex").count() == 1  # title math rendered
    page.screenshot(path=str(shots / "previous-day.png"))

    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label("Search query").fill("diphoton")
    page.get_by_label("Search query").press("Enter")
    page.wait_for_url("**/papers?q=diphoton*")
    assert page.locator("article.card").count() >= 1
    assert page.locator("article.card mark").count() >= 1
    page.screenshot(path=str(shots / "search.png"))

    page.goto(base + "/papers/0704.0002")
    page.wait_for_selector(".abstract .katex")
    assert "Sparsity-certifying" in page.locator("h1").inner_text()
    assert "@misc{0704.0002," in page.locator("#bibtex").inner_text()
    page.screenshot(path=str(shots / "paper.png"), full_page=True)

    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("reader1")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(base + "/")
    assert "reader1" in page.locator(".account").inner_text()

    page.goto(base + "/papers/0704.0002")
    button = page.locator(".paper-actions .vote-button")
    assert button.get_attribute("aria-pressed") == "false"
    button.click()  # htmx swaps the button in place
    page.wait_for_selector('.paper-actions .vote-button[aria-pressed="true"]')
    assert page.locator(".paper-actions .vote-count").inner_text() == "1"
    assert page.url == base + "/papers/0704.0002"
    page.reload()
    assert page.locator(".paper-actions .vote-count").inner_text() == "1"

    page.get_by_role("link", name="Submit", exact=True).click()
    page.get_by_label("arXiv id or link").fill("https://arxiv.org/abs/1707.08567v2")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/papers/1707.08567?submitted=1")
    assert "on today's list" in page.locator(".notice").inner_text()
    page.screenshot(path=str(shots / "submitted.png"))
    page.goto(base + "/")
    assert page.locator("#paper-1707\\.08567").count() == 1

    page.goto(base + "/papers/2610.09999")
    assert page.locator("h1").inner_text() == XSS_TITLE
    assert page.locator("article img").count() == 0
    page.screenshot(path=str(shots / "hostile-title.png"))

    assert page.dialogs == []
    assert [p for p in page.problems if "Content Security Policy" in p or "Refused" in p] == []


def test_works_without_javascript(browser, site):
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(site + "/signup")
    tab.get_by_label("Username").fill("nojs")
    tab.get_by_label("Password").fill("correct horse battery")
    tab.get_by_role("button", name="Sign up").click()
    tab.goto(site + f"/papers/date/{EARLIER_DAY}")
    tab.locator("article.card .vote-button").first.click()  # a plain form POST, then a redirect back
    tab.wait_for_url(f"**/papers/date/{EARLIER_DAY}*")
    assert tab.locator("article.card .vote-count").first.inner_text() == "4"
    context.close()


def test_phone_layout_and_keyboard(browser, site, shots):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tab = context.new_page()
    tab.goto(site + "/")
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
    tab.screenshot(path=str(shots / "daily-phone.png"))
    tab.keyboard.press("Tab")  # the first stop is the skip link
    assert tab.evaluate("document.activeElement.textContent") == "Skip to content"
    for path in ("/papers/0704.0002", "/papers", "/login", "/trending"):
        tab.goto(site + path)
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
    tab.goto(site + "/papers/0704.0002")
    tab.screenshot(path=str(shots / "paper-phone.png"), full_page=True)
    context.close()


def test_api_docs_render_offline_under_the_csp(page, site, shots):
    """/docs is Swagger UI from vendored files: no CDN, no inline script, no CSP violation."""
    page.goto(f"{site}/docs")
    page.get_by_text("/api/daily_papers").first.wait_for(timeout=15000)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("paperfeed")
    page.screenshot(path=str(shots / "api-docs.png"))
    assert page.problems == []


def test_paper_page_shows_code_and_project_links(page, engine, tmp_path, shots):
    listed = tmp_path / "hub.json"
    listed.write_text('{"date": "2026-10-03", "papers": [{"id": "2610.07777", "title": "Links", "authors": ["A"],'
                      ' "summary": "Weights: https://huggingface.co/datasets/ann/set.", "upvotes": 1,'
                      ' "githubRepo": "https://github.com/ann/links", "projectPage": "https://ann.github.io/links/"}]}')
    assert ingest_sources([str(listed)], engine=engine).exit_status == 0
    page.goto(page.base + "/papers/2610.07777")
    head = page.locator(".paper-head")
    assert head.get_by_role("link", name="Code", exact=True).get_attribute("href") == "https://github.com/ann/links"
    assert head.get_by_role("link", name="Project page").get_attribute("href") == "https://ann.github.io/links/"
    assert head.get_by_role("link", name="Dataset: ann/set").get_attribute("href") == "https://huggingface.co/datasets/ann/set"
    page.screenshot(path=str(shots / "paper-links.png"))
    page.goto(page.base + "/papers/1706.00679")  # the arXiv sample: code named only in its comments
    assert page.locator(".paper-head a.badge.code").get_attribute("href") == (
        "https://github.com/ydecastro/super-resolution-testing")
    assert not page.problems
