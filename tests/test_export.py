"""
Export: every paper once, in arxiv_id order, readable back by `paperfeed ingest`
into a fresh database with nothing lost — the second export is identical to the first.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from paperfeed import db
from paperfeed.cli import cli
from paperfeed.ingest.records import PaperRecord
from paperfeed.ingest.run import ingest_sources
from paperfeed.ingest.upsert import write_batch
from paperfeed.ops.export import COLUMNS, export_papers
from tests.conftest import shared_data

# every field Hugging Face can know of a paper (the sample list carries githubRepo only)
HUB = {
    "github_repo": "https://github.com/state-spaces/mamba",
    "project_page": "https://mamba.example.org",
    "github_stars": 12345,
    "ai_summary": "Selective state spaces.\nLinear time in sequence length.",
    "ai_keywords": ["state space models", "selective scan"],
}


@pytest.fixture
def loaded(engine):
    """The real Kaggle and Hugging Face samples (250 papers) and one paper with every Hugging Face field."""
    sources = [str(shared_data("arxiv-kaggle-sample.jsonl")), str(shared_data("hf-daily-papers-sample.json"))]
    summary = ingest_sources(sources, engine=engine)
    assert summary.exit_status == 0
    write_batch(engine, [PaperRecord(
        arxiv_id="2312.00752", source="hf-daily", title="Mamba", authors=["Albert Gu", "Tri Dao"],
        abstract="We propose selective state space models.", primary_category="cs.LG", categories=["cs.LG"],
        comments="Code: https://github.com/state-spaces/mamba. Models at https://huggingface.co/state-spaces/mamba-2.8b",
        **HUB,
    )])
    return engine


def hub_records(records: list[dict]) -> dict[str, dict]:
    names = [*HUB, "links"]
    return {r["arxiv_id"]: {n: r[n] for n in names} for r in records if any(r[n] is not None for n in names)}


@pytest.fixture
def fresh(tmp_path):
    """A second, empty database for the return leg of a round trip."""
    url = f"sqlite:///{tmp_path / 'second' / 'paperfeed.db'}"
    yield db.connect(url)
    db.dispose(url)


def test_jsonl_round_trip(loaded, fresh, tmp_path):
    first = tmp_path / "export.jsonl"
    export_papers("jsonl", first, engine=loaded)
    records = [orjson.loads(line) for line in first.read_bytes().splitlines()]
    assert len(records) == 251
    assert [r["arxiv_id"] for r in records] == sorted(r["arxiv_id"] for r in records)
    assert all(list(r) == list(COLUMNS) for r in records)
    assert any("\n" in r["abstract"] for r in records)  # paragraph breaks survive the trip
    hub = hub_records(records)
    assert hub["2312.00752"] == {**HUB, "links": [
        {"kind": "code", "url": "https://github.com/state-spaces/mamba"},
        {"kind": "model", "url": "https://huggingface.co/state-spaces/mamba-2.8b"},
    ]}
    assert sum(1 for h in hub.values() if h["github_repo"]) == 33  # the 32 of the sample list, and ours
    assert sum(1 for h in hub.values() if h["links"]) > 1  # links found in the samples' own comments

    summary = ingest_sources([str(first)], engine=fresh)  # format detected: table
    assert (summary.read, summary.new, summary.rejected) == (251, 251, 0)
    second = tmp_path / "again.jsonl"
    export_papers("jsonl", second, engine=fresh)
    assert hub_records([orjson.loads(line) for line in second.read_bytes().splitlines()]) == hub
    assert second.read_bytes() == first.read_bytes()


def test_parquet_round_trip(loaded, fresh, tmp_path):
    first = tmp_path / "export.parquet"
    export_papers("parquet", first, engine=loaded)
    schema = pq.read_schema(first)
    assert schema.names == list(COLUMNS)
    assert str(schema.field("authors").type) == "list<element: string>"
    assert str(schema.field("categories").type) == "list<element: string>"
    assert str(schema.field("github_stars").type) == "int64"
    assert str(schema.field("ai_keywords").type) == "list<element: string>"
    assert str(schema.field("links").type) == "list<element: struct<kind: string, url: string>>"
    assert pq.ParquetFile(first).metadata.num_rows == 251
    assert hub_records(pq.read_table(first).to_pylist())["2312.00752"]["github_stars"] == HUB["github_stars"]

    summary = ingest_sources([str(first)], engine=fresh)
    assert (summary.read, summary.new, summary.rejected) == (251, 251, 0)
    second = tmp_path / "again.parquet"
    export_papers("parquet", second, engine=fresh)
    assert pq.read_table(second).equals(pq.read_table(first))
    # and the Parquet leg agrees with the JSON lines export of the original
    original, returned = tmp_path / "original.jsonl", tmp_path / "returned.jsonl"
    export_papers("jsonl", original, engine=loaded)
    export_papers("jsonl", returned, engine=fresh)
    assert returned.read_bytes() == original.read_bytes()


def test_statistics_cover_every_column(loaded, tmp_path):
    stats = export_papers("jsonl", tmp_path / "export.jsonl", engine=loaded)
    assert stats.splitlines()[0] == "251 papers exported"
    rows = {line.split()[0]: line.split() for line in stats.splitlines()[3:]}
    assert set(rows) == set(COLUMNS)
    assert rows["arxiv_id"][2] == "251/251"
    assert rows["version"][2] == "200/251"  # the 51 Hugging Face papers carry no version
    assert rows["authors"][1] == "list<string>"
    assert rows["github_repo"][2] == "33/251" and rows["github_stars"][2] == "1/251"


def test_empty_database_exports_nothing(engine, tmp_path):
    path = tmp_path / "empty.parquet"
    stats = export_papers("parquet", path, engine=engine)
    assert pq.ParquetFile(path).metadata.num_rows == 0
    assert stats.startswith("0 papers exported")


def test_cli_writes_json_lines_to_stdout(loaded):
    result = CliRunner().invoke(cli, ["export"])
    assert result.exit_code == 0, result.output
    lines = result.stdout_bytes.splitlines()
    assert len(lines) == 251 and orjson.loads(lines[0])["arxiv_id"] == "0704.0001"
    assert "papers exported" in result.stderr and "published" in result.stderr


def test_cli_parquet_needs_a_file(engine, tmp_path: Path):
    runner = CliRunner()
    assert runner.invoke(cli, ["export", "--format", "parquet"]).exit_code == 2
    out = tmp_path / "p.parquet"
    assert runner.invoke(cli, ["export", "--format", "parquet", "-o", str(out)]).exit_code == 0
    assert out.exists()
