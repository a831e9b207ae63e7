"""
The reader's library in a real browser (issue #13): sign up, save three papers
from three places (a day list, search results, a paper page) with the htmx
button, put one in a new collection, make that collection public and open its
address signed out, import a Zotero-style BibTeX file and read the report.
Screenshots: test-artifacts/library*.png.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from paperfeed.ingest.run import ingest_sources
from paperfeed.ops.demo import sample_files
from paperfeed.web.app import create_app
from tests.library_support import FIXTURES
from tests.server import serve

SAMPLE_DAY = date(2026, 10, 3)


@pytest.fixture
def site(engine, monkeypatch):
    summary = ingest_sources([str(p) for p in sample_files()], engine=engine)
    assert summary.exit_status == 0
    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "0")
    monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", "http://127.0.0.1:9/api/query")  # never the real arXiv
    with serve(create_app(engine)) as base:
        yield base



def _save_first(card) -> str:
    """Click a card's save button (htmx swaps it) and return the card's paper id."""
    button = card.locator(".save-button")
    assert button.get_attribute("aria-pressed") == "false"
    button.click()
    card.locator('.save-button[aria-pressed="true"]').wait_for()
    return card.get_attribute("id").removeprefix("paper-")


def test_save_collect_publish_and_import(page, browser, shots):
    base = page.base
    page.goto(base + "/signup")
    page.get_by_label("Username").fill("librarian")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(base + "/")

    page.goto(f"{base}/papers/date/{SAMPLE_DAY}")  # 1. from a day list
    from_day = _save_first(page.locator("article.card").first)
    assert page.url == f"{base}/papers/date/{SAMPLE_DAY}"  # htmx: no navigation

    page.get_by_role("link", name="Search", exact=True).click()  # 2. from search results
    page.get_by_label("Search query").fill("diphoton")
    page.get_by_label("Search query").press("Enter")
    page.wait_for_url("**/papers?q=diphoton*")
    from_search = _save_first(page.locator("article.card").first)

    page.goto(base + "/papers/0704.0002")  # 3. from a paper page
    page.locator(".paper-actions .save-button").click()
    page.wait_for_selector('.paper-actions .save-button[aria-pressed="true"]')
    page.reload()  # stored, not just swapped in
    assert page.locator(".paper-actions .save-button").get_attribute("aria-pressed") == "true"
    saved_ids = {from_day, from_search, "0704.0002"}
    assert len(saved_ids) == 3

    page.get_by_role("link", name="Library", exact=True).click()
    page.wait_for_url(base + "/library")
    listed = {i.removeprefix("saved-") for i in page.locator("article.saved-item").evaluate_all("els => els.map(e => e.id)")}
    assert listed == saved_ids

    page.get_by_label("Name").fill("Reading group")  # a new collection
    page.get_by_role("button", name="Create collection").click()
    page.wait_for_url("**/library?collection=reading-group*")
    assert page.locator("h1").inner_text() == "Reading group"
    page.get_by_role("link", name="All saved papers", exact=True).first.click()
    item = page.locator("#saved-0704\\.0002")
    item.get_by_label(re.compile("to a collection")).select_option(label="Reading group")
    item.get_by_role("button", name="Add").click()
    page.wait_for_url("**/library?done=added")
    assert "Reading group" in page.locator("#saved-0704\\.0002 .in-collections").inner_text()

    item = page.locator("#saved-0704\\.0002")  # a private note, kept private
    item.get_by_text("Add a note").click()
    item.get_by_label(re.compile("Private note")).fill("Read §3 first.\nThen the appendix.")
    item.get_by_role("button", name="Save note").click()
    page.wait_for_url("**/library?done=note")
    assert page.locator("#saved-0704\\.0002 .note").inner_text() == "Read §3 first.\nThen the appendix."

    page.locator(".collection-list").get_by_role("link", name=re.compile("Reading group")).click()
    page.get_by_role("button", name="Make public").click()
    page.wait_for_url("**done=public*")
    public = page.locator("a.public-link").get_attribute("href")
    assert public == "/u/librarian/c/reading-group"
    page.goto(base + "/library")
    page.screenshot(path=str(shots / "library.png"), full_page=True)

    stranger = browser.new_context()  # signed out
    tab = stranger.new_page()
    response = tab.goto(base + public)
    assert response.status == 200
    assert tab.locator("h1").inner_text() == "Reading group"
    assert tab.locator("article.card").evaluate_all("els => els.map(e => e.id)") == ["paper-0704.0002"]
    assert "appendix" not in tab.content()  # notes are the owner's alone
    assert tab.locator("article.card a.save-button").inner_text().strip().endswith("Save")  # a link to log in
    tab.screenshot(path=str(shots / "library-public.png"))
    assert tab.goto(base + "/u/librarian/c/reading-list").status == 404  # still private
    stranger.close()

    page.goto(base + "/library/import")  # import the Zotero-style BibTeX file
    page.get_by_label("BibTeX, CSV or paperfeed JSON file").set_input_files(str(FIXTURES / "zotero-export.bib"))
    page.get_by_label("…or a new collection").fill("From Zotero")
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("h1:text('Import report')")
    missed = page.locator(".not-imported tbody tr").all_inner_texts()
    assert len(missed) == 2
    assert any("einstein_can_1935" in row and "no arXiv id" in row for row in missed)
    assert any("pan_evolution_2007" in row and "Malformed" in row for row in missed)
    matched = page.locator(".imported tbody tr").all_inner_texts()
    assert {m.split("\t")[1] for m in matched} == {
        "balazs_calculation_2007", "streinu_sparsity-certifying_2008", "callan_determinant_2007", "swift_numerical_2007",
    }
    page.screenshot(path=str(shots / "library-import.png"), full_page=True)
    page.get_by_role("link", name="From Zotero").click()
    assert page.locator("article.saved-item").count() == 4
    assert page.problems == []

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing scrolls sideways
    for path in ("/library", "/library?collection=reading-group", "/library/import", public):
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
    page.goto(base + "/library")
    page.screenshot(path=str(shots / "library-phone.png"), full_page=True)
