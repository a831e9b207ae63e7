"""
The Hugging Face-compatible API, read by the real `huggingface_hub` client over
HTTP (`HfApi(endpoint=...)` against a uvicorn server), plus in-process checks
of its errors and of the shapes documented in the OpenAPI schema.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from sqlalchemy import func, insert, select

from paperfeed.ingest import clean
from paperfeed.ingest.run import ingest_sources
from paperfeed.models import DailyEntry, Paper
from paperfeed.ops.demo import SAMPLES
from paperfeed.web import hf_json
from tests import corpus
from tests.server import paperfeed_app, serve


@pytest.fixture
def app(engine, tmp_path):
    corpus.load(engine, tmp_path)
    return paperfeed_app(engine)


@pytest.fixture
def client(app):
    return TestClient(app)


@pytest.fixture
def hf(app, monkeypatch):
    # `make test` sets HF_HUB_OFFLINE=1 so no model is ever downloaded; it also makes
    # the client refuse every request, ours included.  Our server is not the Hub.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with serve(app) as url:
        yield HfApi(endpoint=url, token=False)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_daily_papers_of_a_date_match_what_was_ingested(hf):
    listed = list(hf.list_daily_papers(date="2026-10-03"))
    sample = {p["id"]: p for p in corpus.sample_papers()}
    assert {p.id for p in listed} == set(sample)
    for info in listed:
        want = sample[info.id]
        assert info.title == want["title"]
        assert [a.name for a in info.authors] == want["authors"]
        assert info.summary == clean.abstract(want["summary"])  # as stored by ingest
        assert info.published_at == when(want["publishedAt"])
        assert info.submitted_at == midnight(corpus.SAMPLE_DAY)
    # upvotes are the imported count plus our users' votes, most upvoted first
    assert listed[0].id == corpus.VOTED and listed[0].upvotes == 2
    # a count of 0 reads as 0, not None: PaperInfo falls back on the item's top-level upvotes
    assert all(p.upvotes == 0 for p in listed[1:])


def test_daily_papers_by_week_month_submitter_and_page(hf):
    week40 = [p.id for p in hf.list_daily_papers(week="2026-W40", limit=100)]
    assert len(week40) == 51 and week40[-1] == "hep-th/9901001"  # older day last
    assert [p.id for p in hf.list_daily_papers(week="2026-W41")] == ["2610.22222"]
    assert [p.id for p in hf.list_daily_papers(month="2026-09")] == ["hep-th/9901001", "2609.11111"]
    assert len(list(hf.list_daily_papers(month="2026-10", limit=100))) == 51

    (alice,) = hf.list_daily_papers(submitter="alice")
    assert alice.id == "hep-th/9901001"
    assert alice.submitted_by.username == "alice"
    assert alice.submitted_at == midnight(date(2026, 9, 29))
    assert alice.published_at == when("1999-01-04T00:00:00.000Z")
    assert alice.upvotes == 7
    assert alice.title == "Old-style identifiers & <strings>"

    everything = [p.id for p in hf.list_daily_papers(limit=100)]  # newest day first
    assert everything[0] == "2610.22222" and len(everything) == 53
    pages = [[p.id for p in hf.list_daily_papers(limit=20, p=n)] for n in range(3)]
    assert [len(page) for page in pages] == [20, 20, 13]
    assert sum(pages, []) == everything

    trending = [p.id for p in hf.list_daily_papers(sort="trending", limit=5)]
    assert trending[0] == corpus.VOTED  # the only paper with upvotes this week


def test_paper_info_and_lists_count_the_comments_posted_on_the_page(hf, client, engine, app):
    """Two comments posted through the page's form: `paper_info` and the list items say 2,
    as do the page and the discussion feed (feedparser, over HTTP)."""
    import feedparser

    from tests.webdata import sign_in

    assert hf.paper_info(corpus.VOTED).comments == 0
    sign_in(client, engine, "commenter")
    for text in ("First: $a_1 * b_2 + c_3 * d_4$", "Second, *with* emphasis"):
        page = BeautifulSoup(client.get(f"/papers/{corpus.VOTED}").text, "html.parser")
        form = page.select_one("form.comment-form")
        fields = {i["name"]: i.get("value", "") for i in form.select("input")}
        assert client.post("/comments", data={**fields, "body": text}, follow_redirects=False).status_code == 303
    assert hf.paper_info(corpus.VOTED).comments == 2
    (listed,) = [p for p in hf.list_daily_papers(date=corpus.SAMPLE_DAY.isoformat()) if p.id == corpus.VOTED]
    assert listed.comments == 2
    assert all(p.comments == 0 for p in hf.list_daily_papers(date=corpus.SAMPLE_DAY.isoformat()) if p.id != corpus.VOTED)
    page = BeautifulSoup(client.get(f"/papers/{corpus.VOTED}").text, "html.parser")
    assert int(page.select_one(".comment-count")["data-count"]) == 2
    feed = feedparser.parse(f"{hf.endpoint}/feeds/discussion/{corpus.VOTED}.atom")
    assert feed.status == 200 and feed.bozo == 0 and len(feed.entries) == 2


def test_paper_info(hf):
    info = hf.paper_info("hep-th/9901001")  # an old-style id, slash and all
    assert info.id == "hep-th/9901001"
    assert [a.name for a in info.authors] == ["Ann Old", "Bo String"]
    assert info.title == "Old-style identifiers & <strings>"
    assert info.summary.startswith("An abstract about strings")
    assert info.upvotes == 7
    assert info.submitted_by.username == "alice"
    assert info.submitted_at == midnight(date(2026, 9, 29))
    assert info.published_at == when("1999-01-04T00:00:00.000Z")

    voted = hf.paper_info(f"{corpus.VOTED}v2")  # a version suffix names the same paper
    assert voted.id == corpus.VOTED and voted.upvotes == 2 and voted.submitted_by is None

    kaggle = hf.paper_info("0704.0001")  # never on a daily list
    assert kaggle.title.startswith("Calculation of prompt diphoton production")
    assert kaggle.submitted_at is None and kaggle.published_at is not None
    assert kaggle.categories == ["hep-ph"]


@pytest.mark.parametrize("missing", ["9999.99999", "hep-th/0000000", "not-an-id"])
def test_unknown_paper_raises_the_clients_error(hf, missing):
    with pytest.raises(HfHubHTTPError) as caught:
        hf.paper_info(missing)
    assert caught.value.response.status_code == 404
    assert "Paper not found" in str(caught.value)
    with pytest.raises(HfHubHTTPError):
        hf.read_paper(missing)


def test_read_paper_is_markdown(hf):
    text = hf.read_paper("hep-th/9901001")
    assert text.startswith("# Old-style identifiers & <strings>\n")
    assert "Ann Old, Bo String" in text
    assert "An abstract about strings, with <angle brackets> & ampersands." in text
    assert "2026-09-29 by alice" in text


def test_list_papers_searches(hf):
    found = [p.id for p in hf.list_papers(query="sparse attention")]
    assert found and found[0] == "2609.11111"
    assert len(list(hf.list_papers(query="the", limit=3))) == 3
    newest = list(hf.list_papers(limit=5))  # no query: the newest papers
    assert [p.id for p in newest][0] == "2610.22222"


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2026-13-01"},
        {"date": "03/10/2026"},
        {"date": "2026-10-03", "week": "2026-W40"},
        {"week": "2026-W40", "month": "2026-10"},
        {"week": "2026-W54"},
        {"week": "2026-40"},
        {"month": "2026-13"},
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"p": -1},
        {"sort": "upvotes"},
        {"date": "2026-10-0\u00e9"},
        {"submitter": "x" * 201},
    ],
)
def test_bad_parameters_are_400_with_a_message(client, params):
    r = client.get("/api/daily_papers", params=params)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]


def test_search_limits_and_not_found_bodies(client):
    assert client.get("/api/papers/search", params={"q": "x", "limit": 0}).status_code == 400
    assert client.get("/api/papers/search", params={"q": "x" * 2001}).status_code == 400
    r = client.get("/api/papers/9999.99999")
    assert r.status_code == 404 and r.json() == {"error": "Paper not found"}
    assert client.get("/papers/9999.99999.md").status_code == 404


def test_responses_match_the_documented_models(app, client):
    items = client.get("/api/daily_papers", params={"month": "2026-09"}).json()
    for item in items:
        hf_json.HFListItem.model_validate(item)
    assert items[0]["paper"]["submittedOnDailyBy"]["user"] == "alice"
    assert items[0]["submittedBy"]["user"] == "alice"
    hf_json.HFPaper.model_validate(client.get("/api/papers/hep-th/9901001").json())
    schema = client.get(app.openapi_url).json()
    for route in ("/api/daily_papers", "/api/papers/search", "/api/papers/{arxiv_id}"):
        assert schema["paths"][route]["get"]["summary"]


# --- issue 15: what the real client sees ------------------------------------------


def test_list_items_carry_categories_code_and_upvotes_at_the_top_level(hf):
    sample = {p["id"]: p for p in corpus.sample_papers()}
    listed = list(hf.list_daily_papers(date="2026-10-03"))
    with_code = [p for p in listed if sample[p.id].get("githubRepo")]
    assert len(with_code) == sum(1 for p in sample.values() if p.get("githubRepo")) > 20
    for info in listed:
        if sample[info.id].get("githubRepo"):
            assert info.github_repo == sample[info.id]["githubRepo"]
        else:  # only a repository the abstract itself links to
            assert info.github_repo is None or info.github_repo in sample[info.id]["summary"]
        assert info.categories == [] and info.primaryCategory is None  # the HF sample has none
        assert info.arxivUrl == f"https://arxiv.org/abs/{info.id}"
        assert info.upvotes is not None
    (kaggle,) = [p for p in hf.list_papers(query="diphoton production cross sections Tevatron", limit=120)
                 if p.id == "0704.0001"]
    assert kaggle.categories == ["hep-ph"] and kaggle.primaryCategory == "hep-ph"
    assert kaggle.upvotes == 0


def test_search_limit_goes_to_120(hf, client):
    assert 3 <= len(list(hf.list_papers(query="the", limit=120))) <= 120
    assert client.get("/api/papers/search", params={"q": "the", "limit": 121}).status_code == 400


def test_nothing_made_up(client):
    body = client.get("/api/daily_papers", params={"month": "2026-09"}).text
    for key in ("avatarUrl", "thumbnail", "mediaUrls", "isPro"):
        assert key not in body


LISTED_AT = "2026-10-02T01:14:22.000Z"
HUB = [  # the live shape, with the fields Hugging Face adds beyond arXiv
    {
        "paper": {
            "id": "2610.00042",
            "title": "A paper with code",
            "authors": [{"name": "Ann Coder"}],
            "summary": "We release everything.",
            "publishedAt": "2026-09-30T17:00:00.000Z",
            "upvotes": 0,
            "githubRepo": "https://github.com/ann/coder",
            "githubStars": 1234,
            "projectPage": "https://ann.github.io/coder/",
            "ai_summary": "Ann releases code.",
            "ai_keywords": ["code release", "reproducibility"],
            "submittedOnDailyAt": LISTED_AT,
        },
        "publishedAt": LISTED_AT,
        "title": "A paper with code",
        "thumbnail": "https://cdn-thumbnails.huggingface.co/x.png",
    },
    {
        "paper": {"id": "2610.00043", "title": "No date of its own", "authors": [{"name": "Bo"}],
                  "summary": "An abstract.", "upvotes": 4},
        "submittedOnDailyAt": "2026-10-02T09:30:00.000Z",
        "title": "No date of its own",
    },
]


@pytest.fixture
def hub(engine, tmp_path, monkeypatch):
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(HUB))
    atom = SAMPLES / "arxiv-api-search-testing.xml"
    summary = ingest_sources([str(path), str(atom)], engine=engine)
    assert summary.rejected == 0, summary.line()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    app = paperfeed_app(engine)
    with serve(app) as url:
        yield HfApi(endpoint=url, token=False), TestClient(app)


def test_hugging_face_fields_and_real_submission_times(hub):
    hf, client = hub
    undated, coder = hf.list_daily_papers(date="2026-10-02")  # most upvoted first
    assert coder.id == "2610.00042"
    assert coder.submitted_at == when(LISTED_AT)  # the list's own time, not midnight
    assert coder.published_at == when("2026-09-30T17:00:00.000Z")
    assert (coder.github_repo, coder.github_stars, coder.project_page) == (
        "https://github.com/ann/coder", 1234, "https://ann.github.io/coder/")
    assert coder.ai_summary == "Ann releases code." and coder.ai_keywords == ["code release", "reproducibility"]
    assert coder.upvotes == 0
    # no date of its own: the list time is its submission, never its publication
    assert undated.published_at is None and undated.submitted_at == when("2026-10-02T09:30:00.000Z")
    info = hf.paper_info("2610.00042")
    assert info.github_repo == "https://github.com/ann/coder" and info.submitted_at == when(LISTED_AT)
    assert "- Code: https://github.com/ann/coder" in hf.read_paper("2610.00042")
    # code found in an arXiv comment ("Python code and Jupyter notebook available at https://github.com/...")
    assert hf.paper_info("1706.00679").github_repo == "https://github.com/ydecastro/super-resolution-testing"
    assert "thumbnail" not in client.get("/api/papers/2610.00042").text


def test_a_readers_submission_has_its_own_time(hub, engine):
    hf, _ = hub
    made = datetime(2026, 10, 7, 15, 4, 5, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(DailyEntry), [{"day": date(2026, 10, 7), "arxiv_id": "1706.00679", "curated": False,
                                           "imported_upvotes": 0, "pinned": False, "hidden": False, "created_at": made}])
    (entry,) = hf.list_daily_papers(date="2026-10-07")
    assert entry.submitted_at == made and entry.upvotes == 0


def test_papers_page_newest_first_through_link_headers(client, monkeypatch, engine):
    monkeypatch.setenv("PAPERFEED_SITE_URL", "https://papers.example.org")
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(Paper)).scalar()
    seen, url, pages = [], "/api/papers?limit=40", 0
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        seen += r.json()
        pages += 1
        link = r.headers.get("link")
        if link is None:
            break
        assert link.startswith("<https://papers.example.org/api/papers?limit=40&cursor=") and link.endswith('>; rel="next"')
        url = link[1:link.index(">")].removeprefix("https://papers.example.org")
    assert pages == -(-total // 40) and len(seen) == total == len({i["paper"]["id"] for i in seen})
    stamps = [i["paper"]["publishedAt"] for i in seen]
    dated = [t for t in stamps if t]
    assert dated == sorted(dated, reverse=True) and stamps[: len(dated)] == dated  # undated last
    for item in seen[:3]:
        hf_json.HFListItem.model_validate(item)
    assert client.get("/api/papers", params={"cursor": "not a cursor!"}).status_code == 400
    assert client.get("/api/papers", params={"cursor": "n-zz"}).status_code == 400
    past_everything = client.get("/api/papers", params={"cursor": "0-" + b"a".hex()})  # before 1970
    assert past_everything.status_code == 200 and "link" not in past_everything.headers


def test_paper_page_answers_markdown_when_asked(client):
    md = client.get("/papers/hep-th/9901001.md").text
    r = client.get("/papers/hep-th/9901001", headers={"Accept": "text/markdown"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown") and r.text == md
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = client.get("/papers/hep-th/9901001", headers={"Accept": browser})
    assert page.headers["content-type"].startswith("text/html") and "Accept" in page.headers["vary"]
    assert client.get("/papers/hep-th/9901001", headers={"Accept": "text/markdown;q=0.5, text/html"}).headers[
        "content-type"].startswith("text/html")


def test_footer_links_to_the_docs(client):
    page = BeautifulSoup(client.get("/papers/hep-th/9901001").text, "html.parser")
    api = page.select_one("footer a[href='/docs']")
    assert api is not None and api.text == "API"
    assert client.get("/docs").status_code == 200


def test_pages_show_code_and_project_links(hub):
    _, client = hub
    page = BeautifulSoup(client.get("/papers/2610.00042").text, "html.parser")
    assert page.select_one(".paper-head a.badge.code")["href"] == "https://github.com/ann/coder"
    assert page.select_one(".paper-head a.badge.project")["href"] == "https://ann.github.io/coder/"
    day = BeautifulSoup(client.get("/papers/date/2026-10-02").text, "html.parser")
    card = day.select_one("#paper-2610\\.00042")
    assert card.select_one("a.badge.code").text == "Code" and card.select_one("a.badge.project")
    assert day.select_one("#paper-2610\\.00043 .paper-links") is None  # nothing made up


def test_a_cursor_holding_nul_is_a_position_not_a_server_error(engine):
    """schemathesis on PostgreSQL found it: `cursor=n-00` decodes to a NUL id, which PostgreSQL refuses."""
    from tests.webdata import add_paper, client

    add_paper(engine, "2610.00001", "A paper")
    for cursor in ("n-00", "1790000000000000-3236313000", "n-ffff00"):
        r = client(engine).get(f"/api/papers?cursor={cursor}")
        assert r.status_code == 200, (cursor, r.text)
