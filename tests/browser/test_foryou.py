"""
"For you" in a real browser (issue #14), over the For you corpus
(tests/foryou_support.py) with a real search index: a reader signs up, saves
three state-space papers from their pages, and For you lists the window's
state-space papers first, each saying which of those saved papers it is close
to; "not interested" removes a card (htmx) and it stays gone after a reload;
the hidden-gems switch puts the well-fitting papers with few upvotes ahead of
the much-upvoted one; a reader with an empty library gets the onboarding.
Screenshots: test-artifacts/foryou*.png.

Signing in: each reader signs up on `/signup` and lands on `/` (as the other
browser tests do) before opening `/for-you`; opening `/for-you` signed out
would go by way of `/login?next=…` instead.
"""

from __future__ import annotations

import pytest

from paperfeed.web.app import create_app
from tests.browser.conftest import new_tab
from tests.foryou_support import ON_TOPIC, SAVED, TOPIC, load
from tests.server import serve

pytest.importorskip("paperfeed.search")
SAVED_TITLES = {p[1] for p in SAVED}
MUCH_UPVOTED = max(ON_TOPIC, key=lambda p: p[3])[0]


@pytest.fixture
def site(engine, data_dir):
    load(engine)
    with serve(create_app(engine)) as base:
        yield base


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def sign_up(context, base: str, username: str):
    page = new_tab(context, base)
    page.goto(base + "/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(base + "/")
    return page


def ranked(page) -> list[str]:
    ids = page.locator("li.foryou-item").evaluate_all("els => els.map(e => e.id)")
    return [i.removeprefix("foryou-") for i in ids]


def test_for_you_ranks_explains_dismisses_and_finds_gems(context, site, shots):
    page = sign_up(context, site, "ssm-reader")
    for arxiv_id, _, _ in SAVED:  # three saved papers on one topic, saved from their pages
        page.goto(f"{site}/papers/{arxiv_id}")
        page.locator(".paper-actions .save-button").click()
        page.wait_for_selector('.paper-actions .save-button[aria-pressed="true"]')

    page.get_by_role("link", name="For you", exact=True).click()
    page.wait_for_url(f"{site}/for-you*")
    order = ranked(page)
    assert set(order[:3]) == TOPIC, order
    for item in page.locator("li.foryou-item").all()[:3]:
        why = item.locator(".why")
        assert "in your library" in why.inner_text()
        named = set(why.locator("a").all_inner_texts())
        assert named and {t.strip("“”") for t in named} <= SAVED_TITLES, named
    page.screenshot(path=str(shots / "foryou.png"), full_page=True)

    gone = order[-1]  # "not interested" (an off-topic paper): htmx takes the card out, no navigation
    card = page.locator("#foryou-" + gone.replace(".", "\\."))
    card.get_by_role("button", name="Not interested").click()
    card.wait_for(state="detached")
    assert page.url.startswith(f"{site}/for-you")
    page.reload()
    plain = ranked(page)
    assert gone not in plain and set(plain) == set(order) - {gone}

    assert plain.index(MUCH_UPVOTED) < 2  # the much-upvoted paper fits well...
    page.get_by_role("button", name="Hidden gems: off").click()
    page.wait_for_url("**gems=1*")
    gems = ranked(page)
    assert page.get_by_role("button", name="Hidden gems: on").get_attribute("aria-pressed") == "true"
    low = [p for p in plain if p in TOPIC - {MUCH_UPVOTED}]  # ...but the fitting ones with few upvotes
    assert gems[: len(low)] == low and gems.index(MUCH_UPVOTED) >= len(low)  # come first, in fit order
    assert gems != plain and set(gems) == set(plain)
    assert "Few upvotes yet" in page.locator("li.foryou-item .why").first.inner_text()
    page.screenshot(path=str(shots / "foryou-gems.png"), full_page=True)
    assert [p for p in page.problems if "Content Security Policy" in p or "Refused" in p] == []


def test_an_empty_library_gets_the_onboarding(context, site, shots):
    page = sign_up(context, site, "newcomer")
    page.goto(f"{site}/for-you")
    onboarding = page.locator("#foryou-onboarding")
    onboarding.wait_for()
    assert page.locator("li.foryou-item").count() == 0
    assert onboarding.get_by_role("link", name="paste arXiv ids or import a BibTeX file").get_attribute("href") \
        == "/library/import"
    page.screenshot(path=str(shots / "foryou-onboarding.png"))
    onboarding.get_by_label("cs.LG").check()  # follow a category: the page now ranks by it
    onboarding.get_by_role("button", name="Follow").click()
    page.wait_for_url(f"{site}/for-you")
    assert page.locator("#foryou-onboarding").count() == 0
    assert "In cs.LG, which you follow" in page.locator("li.foryou-item .why").first.inner_text()
