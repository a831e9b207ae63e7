"""
The "For you" page over a real (small) search index: ranked by the library,
with why-lines naming the saved papers, "not interested", hidden gems,
onboarding, and one reader's dismissals never reaching another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from paperfeed.library import saved
from paperfeed.models import Dismissal
from tests.webdata import add_paper, client, csrf, sign_in, soup

search = pytest.importorskip("paperfeed.search")

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)
# the reader's library: three papers on state space models, long before the window
SAVED = [
    ("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
     "We propose a selective state space model for sequence modeling with a hardware-aware parallel scan, "
     "matching Transformers on language modeling with linear time in sequence length."),
    ("2111.00396", "Efficiently Modeling Long Sequences with Structured State Spaces",
     "The structured state space sequence model S4 addresses long-range dependencies in sequence modeling "
     "across modalities with a state space parameterisation."),
    ("2208.04933", "Simplified State Space Layers for Sequence Modeling",
     "We introduce the S5 layer, a multi-input multi-output state space model for long sequence modeling "
     "using a parallel scan."),
]
# the window: three new state-space papers (one much upvoted) and papers on other topics
ON_TOPIC = [
    ("2611.00001", "Selective State Space Models for Long-Context Language Modeling",
     "A selective state space model scales sequence modeling to million-token contexts with a parallel scan.", 50),
    ("2611.00002", "State Space Sequence Models for Raw Audio",
     "We apply structured state space sequence models to long raw audio waveforms.", 0),
    ("2611.00003", "Linear-Time Sequence Modeling with Diagonal State Spaces",
     "Diagonal state space layers match structured state spaces on long sequence modeling benchmarks.", 1),
]
OFF_TOPIC = [
    ("2611.00004", "Galaxy Cluster Masses from Weak Gravitational Lensing",
     "We measure the masses of galaxy clusters using weak lensing shear profiles from survey imaging.", 0),
    ("2611.00005", "Protein Structure Prediction with Evolutionary Couplings",
     "Coevolution of residues in protein families predicts contacts and the folded three-dimensional structure.", 0),
    ("2611.00006", "Graph Colouring Bounds for Sparse Random Graphs",
     "We prove new upper bounds on the chromatic number of sparse Erdos-Renyi random graphs.", 0),
    ("2611.00007", "Supergravity Solutions with Anti-de Sitter Asymptotics",
     "We construct supergravity solutions in five dimensions that approach anti-de Sitter spacetime.", 0),
    ("2611.00008", "Monetary Policy Shocks and Household Consumption",
     "Household survey data show how interest rate shocks change consumption of durable goods.", 0),
]
TOPIC = {p[0] for p in ON_TOPIC}


@pytest.fixture
def site(engine, data_dir):
    for arxiv_id, title, abstract in SAVED:
        add_paper(engine, arxiv_id, title, abstract=abstract, published=OLD)
    for n, (arxiv_id, title, abstract, votes) in enumerate(ON_TOPIC + OFF_TOPIC):
        add_paper(engine, arxiv_id, title, abstract=abstract, published=NOW - timedelta(days=1, hours=n),
                  day=(NOW - timedelta(days=1)).date() if votes else None, upvotes=votes,
                  authors=[f"Author {n}"])
    search.update_index(engine)
    return client(engine)


def save_library(engine, uid):
    with engine.begin() as conn:
        for arxiv_id, _, _ in SAVED:
            saved.save(conn, uid, arxiv_id)


def ranked(page) -> list[str]:
    return [li["id"].removeprefix("foryou-") for li in page.select("li.foryou-item")]


def test_anonymous_visitors_are_sent_to_log_in(site):
    r = site.get("/for-you", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/for-you")


def test_the_library_topic_comes_first_with_why_lines(engine, site):
    uid = sign_in(site, engine)
    save_library(engine, uid)
    r = site.get("/for-you?window=week")
    assert r.status_code == 200
    page = soup(r)
    order = ranked(page)
    assert set(order[:3]) == TOPIC, order
    assert not set(order) & {p[0] for p in SAVED}  # the library itself is never recommended
    first = page.select_one("li.foryou-item")
    links = {a["href"] for a in first.select(".why a")}
    assert links and links <= {f"/papers/{p[0]}" for p in SAVED}
    assert "in your library" in first.select_one(".why").get_text()
    nav = page.select_one('.main-nav a[href="/for-you"]')
    assert nav is not None and nav.get("aria-current") == "page"


def test_not_interested_hides_the_paper_after_reload(engine, site):
    uid = sign_in(site, engine)
    save_library(engine, uid)
    before = ranked(soup(site.get("/for-you")))
    gone = before[0]
    r = site.post("/for-you/dismiss", data={"arxiv_id": gone, "csrf_token": csrf(site, "/for-you"),
                                            "next": "/for-you"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/for-you"
    after = ranked(soup(site.get("/for-you")))
    assert gone not in after and set(after) == set(before) - {gone}
    # htmx: the answer is empty (the card is swapped out); twice is still one dismissal
    r = site.post("/for-you/dismiss", data={"arxiv_id": gone, "csrf_token": csrf(site, "/for-you")},
                  headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text == ""
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dismissal)).scalar_one() == 1
    # still found by search and on its page
    assert site.get(f"/papers/{gone}").status_code == 200


def test_dismiss_refuses_a_bad_form(engine, site):
    sign_in(site, engine)
    token = csrf(site, "/for-you")
    assert site.post("/for-you/dismiss", data={"arxiv_id": "2611.00001"}).status_code == 403
    assert site.post("/for-you/dismiss", data={"arxiv_id": "nonsense", "csrf_token": token}).status_code == 400
    assert site.post("/for-you/dismiss", data={"arxiv_id": "2611.09999", "csrf_token": token}).status_code == 404


def test_hidden_gems_put_the_low_upvote_fits_first(engine, site):
    uid = sign_in(site, engine)
    save_library(engine, uid)
    plain = ranked(soup(site.get("/for-you")))
    gems_page = soup(site.get("/for-you?gems=1"))
    gems = ranked(gems_page)
    assert plain.index("2611.00001") < 2  # the much upvoted one fits well...
    assert gems != plain and set(gems) == set(plain)
    assert gems[:2] == [p for p in plain if p in TOPIC - {"2611.00001"}]  # ...but the gems come first
    assert gems.index("2611.00001") > gems.index("2611.00002")
    assert gems.index("2611.00001") > gems.index("2611.00003")
    assert "Few upvotes yet" in gems_page.select_one("li.foryou-item .why").get_text()


def test_empty_library_shows_onboarding(engine, site):
    sign_in(site, engine)
    page = soup(site.get("/for-you"))
    assert page.select_one("#foryou-onboarding") is not None
    assert page.select_one('a[href="/library/import"]') is not None
    assert not page.select("li.foryou-item")
    # following a category from the onboarding ranks that category
    r = site.post("/for-you/follow", data={"category": ["cs.LG"], "csrf_token": csrf(site, "/for-you")},
                  follow_redirects=False)
    assert r.status_code == 303
    page = soup(site.get("/for-you"))
    assert page.select_one("#foryou-onboarding") is None
    assert "In cs.LG, which you follow" in page.select_one(".why").get_text()
    bad = site.post("/for-you/follow", data={"other": "not a category!", "csrf_token": csrf(site, "/for-you")})
    assert bad.status_code == 400


def test_another_readers_dismissals_do_not_leak(engine, site):
    alice = sign_in(site, engine, "alice")
    save_library(engine, alice)
    site.post("/for-you/dismiss", data={"arxiv_id": "2611.00002", "csrf_token": csrf(site, "/for-you")})
    assert "2611.00002" not in ranked(soup(site.get("/for-you")))
    other = client(engine)
    bob = sign_in(other, engine, "bob")
    save_library(engine, bob)
    assert "2611.00002" in ranked(soup(other.get("/for-you")))


def test_windows_and_no_index(engine, data_dir):
    add_paper(engine, "2611.00001", "A paper", published=NOW - timedelta(hours=2))
    c = client(engine)
    sign_in(c, engine)
    r = c.get("/for-you")
    assert r.status_code == 200 and "not built yet" in soup(r).select_one("#foryou-unavailable").get_text()
    search.update_index(engine)
    for window in ("day", "week", "month", "since", "bogus"):
        assert c.get(f"/for-you?window={window}").status_code == 200
    assert c.get("/for-you?page=0").status_code in (400, 422)
