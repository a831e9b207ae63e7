"""
The Hugging Face-compatible API, read by the real `huggingface_hub` client over
HTTP (`HfApi(endpoint=...)` against a uvicorn server), plus in-process checks
of its errors and of the shapes documented in the OpenAPI schema.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError

from paperfeed.ingest import clean
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
    # PaperInfo reads a count of 0 as None (`paper.upvotes or top-level upvotes`)
    assert all(not p.upvotes for p in listed[1:])


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
