"""
A day page filtered to one category in a real browser (issue #15): a visitor types
`hep` into the filter box, sees only the hep-* papers and keeps the filter when
switching to the week; a signed-in reader remembers it, finds every list filtered
on the next visit, and forgets it.  A paper's key-term chip opens a search for it.
Screenshots: test-artifacts/category-*.png.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import update

from paperfeed.models import Paper
from paperfeed.web.app import create_app
from tests.server import serve
from tests.webdata import add_paper

DAY = date(2026, 9, 28)
PAPERS = [  # (id, title, categories, upvotes)
    ("2609.00001", "Parsing with attention", ["cs.CL"], 6),
    ("2609.00002", "Strings on branes", ["hep-th"], 5),
    ("2609.00003", "Collider jets", ["hep-ph", "cs.LG"], 4),
    ("2609.00004", "Nuclear shell model", ["nucl-th"], 3),
    ("2609.00005", "Lattice gauge fields", ["hep-lat"], 2),
]


@pytest.fixture
def site(engine):
    for arxiv_id, title, cats, upvotes in PAPERS:
        add_paper(engine, arxiv_id, title, day=DAY, upvotes=upvotes, categories=cats)
    with engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.arxiv_id == "2609.00002").values(key_terms=["branes", "string theory"]))
    with serve(create_app(engine)) as base:
        yield base



def titles(page) -> list[str]:
    return page.locator("article.card .card-title").all_inner_texts()


def test_a_day_filtered_to_one_category(page, shots):
    base = page.base
    page.goto(f"{base}/papers/date/{DAY}")
    assert len(titles(page)) == len(PAPERS)
    page.get_by_label("Categories").fill("hep")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**category=hep*")
    assert titles(page) == ["Strings on branes", "Collider jets", "Lattice gauge fields"]
    assert page.locator(".count").inner_text() == "3 papers in hep"
    page.screenshot(path=str(shots / "category-day.png"))

    page.get_by_role("link", name="Week", exact=True).click()  # the filter stays on
    page.wait_for_url("**/papers/week/2026-W40?category=hep")
    assert titles(page) == ["Strings on branes", "Collider jets", "Lattice gauge fields"]
    page.get_by_label("Categories").fill("cs.CL")
    page.get_by_label("Categories").press("Enter")
    page.wait_for_url("**category=cs.CL*")
    assert titles(page) == ["Parsing with attention"]
    page.get_by_role("link", name="Show all").click()
    page.wait_for_url("**category=")
    assert len(titles(page)) == len(PAPERS)

    # a reader remembers the filter; their lists open filtered, until they forget it
    page.goto(base + "/signup")
    page.get_by_label("Username").fill("physicist")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(base + "/")
    page.goto(f"{base}/papers/date/{DAY}?category=hep-th&category=hep-lat")
    page.get_by_role("button", name="Remember for my lists").click()
    page.wait_for_url(f"{base}/papers/date/{DAY}?sort=upvotes")
    assert titles(page) == ["Strings on branes", "Lattice gauge fields"]
    assert "Your saved categories." in page.locator(".category-filter").inner_text()
    page.screenshot(path=str(shots / "category-remembered.png"))
    page.goto(f"{base}/papers/month/2026-09")
    assert titles(page) == ["Strings on branes", "Lattice gauge fields"]
    page.get_by_role("button", name="Forget them").click()
    page.wait_for_url("**/papers/month/2026-09*")
    assert len(titles(page)) == len(PAPERS)

    page.goto(f"{base}/papers/2609.00002")  # a key term is a chip that searches for it
    chip = page.get_by_role("link", name="string theory")
    assert chip.get_attribute("href") == "/papers?q=string+theory"
    chip.click()
    page.wait_for_url("**/papers?q=string+theory")
    assert page.get_by_label("Search query").input_value() == "string theory"
    assert not page.problems, page.problems
