"""
Hugging Face daily papers: the mirror sample, the live API shape (read by
`huggingface_hub`'s own `PaperInfo` as a cross-check), bad papers inside a good
list, merging with the Kaggle snapshot, and fetching over a real local socket.

`fixtures/hf-daily/daily_papers-live.json` follows the fields `PaperInfo` reads
from `GET /api/daily_papers`; its three papers are the first three of the
Kaggle sample (real arXiv metadata, CC0), so the merge with Kaggle is real.
"""

from __future__ import annotations

import copy
import io
from datetime import date
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed.cli import cli
from paperfeed.ingest import hf_daily
from paperfeed.ingest.records import PaperRecord, Reject
from paperfeed.ingest.run import ingest_sources
from paperfeed.models import DailyEntry, Paper
from tests.conftest import shared_data
from tests.ingest_support import rejects
from tests.replay import ReplayServer

LIVE = Path(__file__).parent / "fixtures" / "hf-daily" / "daily_papers-live.json"


def _daily(engine) -> dict[str, DailyEntry]:
    with engine.connect() as conn:
        return {r.arxiv_id: r for r in conn.execute(select(DailyEntry.__table__))}


def _paper(engine, arxiv_id: str):
    with engine.connect() as conn:
        return conn.execute(select(Paper.__table__).where(Paper.arxiv_id == arxiv_id)).one()


def test_mirror_sample_ingests_50_papers_on_its_day(engine):
    path = shared_data("hf-daily-papers-sample.json")
    doc = orjson.loads(path.read_bytes())
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.new, summary.rejected, summary.daily_entries) == (50, 50, 0, 50)
    assert summary.exit_status == 0
    entries = _daily(engine)
    assert len(entries) == 50
    assert {e.day for e in entries.values()} == {date(2026, 10, 3)}
    assert all(e.curated for e in entries.values())
    assert {p["id"]: p["upvotes"] for p in doc["papers"]} == {k: e.imported_upvotes for k, e in entries.items()}
    first = doc["papers"][0]
    stored = _paper(engine, first["id"])
    assert stored.title == first["title"]
    assert stored.authors == first["authors"]
    assert stored.version is None and stored.versions == []
    assert stored.published.isoformat() == first["publishedAt"].replace(".000Z", "+00:00")
    assert stored.sources["abstract"] == "hf-daily"


def test_reingest_changes_nothing(engine):
    path = str(shared_data("hf-daily-papers-sample.json"))
    ingest_sources([path], engine=engine)
    again = ingest_sources([path], engine=engine)
    assert (again.read, again.new, again.updated, again.unchanged, again.daily_entries) == (50, 0, 0, 50, 0)


def test_live_shape_matches_what_huggingface_hub_reads(engine):
    from huggingface_hub.hf_api import PaperInfo

    items = orjson.loads(LIVE.read_bytes())
    infos = [PaperInfo(**copy.deepcopy(item)) for item in items]
    summary = ingest_sources([str(LIVE)], engine=engine)  # detected: a JSON array
    assert (summary.read, summary.rejected, summary.daily_entries) == (3, 0, 3)
    entries = _daily(engine)
    for info in infos:
        entry = entries[info.id]
        assert entry.day == info.submitted_at.date() == date(2026, 10, 2)
        assert entry.imported_upvotes == (info.upvotes or 0)
        assert entry.submitted_by_name == info.submitted_by.username
        stored = _paper(engine, info.id)
        assert stored.title == info.title
        assert stored.authors == [a.name for a in info.authors]
        assert stored.abstract == info.summary
        assert stored.published == info.published_at


def test_bad_papers_are_rejected_alone(engine, data_dir, tmp_path):
    good = {"id": "2609.22753", "title": "A title", "authors": ["A B"], "summary": "Text.", "upvotes": 3}
    papers = [
        good,
        "not an object",
        {**good, "id": None},
        {**good, "id": "not-an-id"},
        {**good, "id": "2609.00001", "summary": 12},
        {**good, "id": "2609.00002", "upvotes": "many"},
        {**good, "id": "2609.00003", "authors": {"name": "A B"}},
        {**good, "id": "2609.00004", "summary": ""},
        {**good, "id": "2609.00005", "upvotes": 5},
    ]
    path = tmp_path / "daily.json"
    path.write_bytes(orjson.dumps({"date": "2026-10-03", "count": len(papers), "papers": papers}))
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (2, 7, 1)
    assert set(_daily(engine)) == {"2609.22753", "2609.00005"}
    assert [r["location"] for r in rejects(data_dir)] == [f"paper {n}" for n in range(2, 9)]


def test_invalid_utf8_loses_only_its_paper(tmp_path):
    item = b'{"id": "%s", "summary": "%s", "upvotes": 1}'
    body = b'{"date": "2026-10-03", "papers": [' + b",".join(
        [item % (b"2609.00001", b"fine"), item % (b"2609.00002", b"bad \xff byte"), item % (b"2609.00003", b"fine")]
    ) + b"]}"
    out = list(hf_daily.read(io.BytesIO(body), "x.json"))
    assert [type(o) for o in out] == [PaperRecord, Reject, PaperRecord]
    assert out[1].location == "paper 2" and "UTF-8" in out[1].reason


@pytest.mark.parametrize(
    "body, reason",
    [
        (b'{"date": "2026-10-03", "papers": [{"id": "2609.00001", "summ', "invalid JSON"),
        (b'{"date": "yesterday", "papers": []}', "bad top-level date"),
        (b'{"papers": [{"id": "2609.00001", "summary": "x"}]}', None),  # no day anywhere
        (b'"just a string"', "expected a JSON array"),
    ],
)
def test_unreadable_documents(body, reason):
    out = list(hf_daily.read(io.BytesIO(body), "x.json"))
    assert len(out) == 1 and isinstance(out[0], Reject)
    if reason:
        assert out[0].location == "file" and reason in out[0].reason
    else:
        assert out[0].location == "paper 1" and "daily date" in out[0].reason


def test_oversized_document_is_refused_whole(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(hf_daily, "MAX_DOCUMENT", 1000)
    path = tmp_path / "big.json"
    papers = [{"id": f"2609.{n:05d}", "summary": "x" * 100} for n in range(20)]
    path.write_bytes(orjson.dumps({"date": "2026-10-03", "papers": papers}))
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)


def test_kaggle_and_hf_are_one_paper(engine):
    kaggle = str(shared_data("arxiv-kaggle-sample.jsonl"))
    ingest_sources([kaggle], engine=engine)
    before = _paper(engine, "0704.0001")
    summary = ingest_sources([str(LIVE)], engine=engine)
    assert (summary.new, summary.daily_entries) == (0, 3)
    after = _paper(engine, "0704.0001")
    for column in ("version", "versions", "title", "authors", "abstract", "published", "updated", "sources"):
        assert getattr(after, column) == getattr(before, column), column
    assert _daily(engine)["0704.0001"].imported_upvotes == 42


def test_hf_fills_but_does_not_overwrite_a_versioned_record(engine, tmp_path):
    ingest_sources([str(shared_data("arxiv-kaggle-sample.jsonl"))], engine=engine)
    before = _paper(engine, "0704.0001")
    item = orjson.loads(LIVE.read_bytes())[0]
    item["paper"].update(title="A retitled copy", summary="A different summary.", authors=[{"name": "Someone Else"}])
    item["title"], item["summary"] = item["paper"]["title"], item["paper"]["summary"]
    path = tmp_path / "daily.json"
    path.write_bytes(orjson.dumps([item]))
    ingest_sources([str(path)], engine=engine)
    after = _paper(engine, "0704.0001")
    assert (after.title, after.abstract, after.authors) == (before.title, before.abstract, before.authors)
    assert (after.version, after.versions) == (before.version, before.versions)
    assert after.sources == before.sources


def test_date_only_published_does_not_replace_exact_v1_time(engine, tmp_path):
    ingest_sources([str(shared_data("arxiv-kaggle-sample.jsonl"))], engine=engine)
    before = _paper(engine, "0704.0001")
    path = tmp_path / "daily.json"
    paper = {"id": "0704.0001", "summary": "x", "upvotes": 1, "publishedAt": "2007-04-02T00:00:00.000Z"}
    path.write_bytes(orjson.dumps({"date": "2026-10-03", "papers": [paper]}))
    ingest_sources([str(path)], engine=engine)
    assert _paper(engine, "0704.0001").published == before.published


def test_fetch_over_a_real_socket(engine):
    with ReplayServer() as server:
        server.add("/api/daily_papers", "hf-daily/daily_papers-live.json", query={"date": "2026-10-02"},
                   content_type="application/json")
        url = server.url("/api/daily_papers?date=2026-10-02")
        summary = ingest_sources([url], engine=engine)
        assert (summary.read, summary.daily_entries, summary.exit_status) == (3, 3, 0)
        assert server.requests[0].query == {"date": "2026-10-02"}
        assert server.requests[0].headers["User-Agent"].startswith("paperfeed/")
        missing = ingest_sources([server.url("/api/daily_papers?date=1999-01-01")], engine=engine)
        assert missing.failed_inputs and missing.exit_status == 2
    assert set(_daily(engine)) == {"0704.0001", "0704.0002", "0704.0003"}


def test_cli_exit_status(engine, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["ingest", str(LIVE)])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"date": "2026-10-03", "papers": [{"id": "2609.00009"}]}')
    result = runner.invoke(cli, ["ingest", "--format", "hf-daily", str(bad)])
    assert result.exit_code == 2
    mixed = tmp_path / "mixed.json"
    mixed.write_bytes(b'{"date": "2026-10-03", "papers": [{"id": "2609.00009"}, {"id": "2609.00010", "summary": "ok"}]}')
    assert runner.invoke(cli, ["ingest", str(mixed)]).exit_code == 1
