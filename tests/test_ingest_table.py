"""
Tabular inputs (JSON lines, CSV, Parquet): good rows around bad ones are stored,
each bad one is rejected with its line or row number, and the exit status says so.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed.cli import cli
from paperfeed.ingest import table
from paperfeed.ingest.records import MAX_ABSTRACT, PaperRecord, Reject
from paperfeed.ingest.run import ingest_sources
from paperfeed.models import Paper
from tests import ingest_support

HUGE = "x" * (MAX_ABSTRACT + 1)


def _papers(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["arxiv_id"]: dict(r) for r in conn.execute(select(Paper.__table__)).mappings()}


def _reject_lines(data_dir: Path) -> dict[str, str]:
    return {e["location"]: e["reason"] for e in ingest_support.rejects(data_dir)}


def _line(obj: dict) -> bytes:
    return orjson.dumps(obj) + b"\n"


def test_jsonl_good_and_bad_rows(engine, data_dir, tmp_path):
    good = {"arxiv_id": "2406.09415", "abstract": "First.", "title": "T", "authors": "A. One, B. Two and C. Three"}
    body = b"".join(
        [
            _line({**good, "categories": "cs.CL cs.LG", "version": 2}),
            _line({"title": "no id", "abstract": "x"}),
            _line({"arxiv_id": "2406.00002", "title": "no abstract"}),
            _line({"arxiv_id": "2406.00003", "abstract": 42}),
            _line({"arxiv_id": "2406.00004", "abstract": "x", "authors": {"name": "A"}}),
            b'{"arxiv_id": "2406.00005", "abstract": "bad \xff byte"}\n',
            _line({"arxiv_id": "2406.00006", "abstract": HUGE}),
            _line({"id": "hep-th/9901001v3", "abstract": "Old style.", "categories": ["hep-th"], "unknown": [1]}),
            b'{"arxiv_id": "2406.00007", "abstract": "cut of',
        ]
    )
    path = tmp_path / "papers.jsonl"
    path.write_bytes(body)
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (2, 7, 1)
    papers = _papers(engine)
    assert set(papers) == {"2406.09415", "hep-th/9901001"}
    first = papers["2406.09415"]
    assert first["authors"] == ["A. One", "B. Two", "C. Three"]
    assert (first["categories"], first["primary_category"], first["version"]) == (["cs.CL", "cs.LG"], "cs.CL", 2)
    assert papers["hep-th/9901001"]["version"] == 3
    rejects = _reject_lines(data_dir)
    assert sorted(rejects, key=lambda s: int(s.split()[1])) == [f"line {n}" for n in (2, 3, 4, 5, 6, 7, 9)]
    assert "missing arxiv_id" in rejects["line 2"]
    assert "missing abstract" in rejects["line 3"]
    assert "abstract must be text" in rejects["line 4"]
    assert "authors" in rejects["line 5"]
    assert "UTF-8" in rejects["line 6"]
    assert "abstract longer than" in rejects["line 7"]
    assert "truncated" in rejects["line 9"]


def test_csv_good_and_bad_rows(engine, data_dir, tmp_path):
    lines = [
        b"id,title,authors,abstract,categories,versions,version,journal-ref,extra\n",  # 1
        b'2406.09415,Good one,"[""Ann Lee"", ""Bo Chen""]",First.,cs.CL cs.LG,'
        b'"[{""version"": 1, ""created"": ""2024-06-13T17:59:58+00:00""}]",,J. Phys. 1,ignored\n',  # 2
        b'2406.09416,Two lines,"A. One, B. Two and C. Three","A paragraph.\n',  # 3
        b'Another paragraph.",cs.CV,,v4,,\n',  # 4
        b",No id,,Text.,,,,,\n",  # 5
        b"2406.00002,No abstract,,,,,,,\n",  # 6
        b"2406.00003,Bad version,,Text.,,,abc,,\n",  # 7
        b'2406.00004,Authors object,"{""name"": ""A""}",Text.,,,,,\n',  # 8
        b"2406.00005,Bad \xff byte,,Text.,,,,,\n",  # 9
        b"2406.00006,Huge,," + HUGE.encode() + b",,,,,\n",  # 10
        b"2406.00007,Too few fields,Text.\n",  # 11
        b"2406.00008,Good again,,Text.,,,,,\n",  # 12
        b'2406.00009,Cut off,,"The last row was cut',  # 13
    ]
    path = tmp_path / "papers.csv"
    path.write_bytes(b"".join(lines))
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (3, 8, 1)
    papers = _papers(engine)
    assert set(papers) == {"2406.09415", "2406.09416", "2406.00008"}
    first, second = papers["2406.09415"], papers["2406.09416"]
    assert first["authors"] == ["Ann Lee", "Bo Chen"]
    assert first["journal_ref"] == "J. Phys. 1"
    assert first["published"].isoformat() == "2024-06-13T17:59:58+00:00"
    assert first["versions"] == [{"version": 1, "created": "2024-06-13T17:59:58+00:00"}]
    assert second["abstract"] == "A paragraph.\nAnother paragraph."
    assert (second["version"], second["authors"]) == (4, ["A. One", "B. Two", "C. Three"])
    rejects = _reject_lines(data_dir)
    assert set(rejects) == {f"line {n}" for n in (5, 6, 7, 8, 9, 10, 11, 13)}
    assert "bad version" in rejects["line 7"]
    assert "UTF-8" in rejects["line 9"]
    assert "truncated" in rejects["line 13"]


def test_csv_without_required_columns_is_unreadable(engine, tmp_path):
    path = tmp_path / "papers.csv"
    path.write_bytes(b"arxiv_id,title\n2406.09415,No abstract column\n")
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)


def test_tsv_is_read(engine, tmp_path):
    path = tmp_path / "papers.tsv"
    path.write_bytes(b"arxiv_id\tabstract\ttitle\n2406.09415\tAn abstract, with commas.\tA, title\n")
    summary = ingest_sources([str(path)], engine=engine)
    assert summary.exit_status == 0
    assert _papers(engine)["2406.09415"]["title"] == "A, title"


def _parquet(path: Path, columns: dict, row_group_size: int = 2) -> None:
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)


def test_parquet_good_and_bad_rows(engine, data_dir, tmp_path):
    path = tmp_path / "papers.parquet"
    _parquet(
        path,
        {
            "arxiv_id": ["2406.09415", None, "2406.00002", "2406.00003", "bad id", "2406.00005"],
            "abstract": ["First.", "No id.", None, HUGE, "x", "Last."],
            "authors": [["Ann Lee"], [], [], [], [], ["Bo Chen", "Cy Dee"]],
            "categories": [["cs.CL", "cs.LG"], None, None, None, None, ["math.AG"]],
            "version": pa.array([2, None, None, None, None, None], pa.int64()),
            "embedding": [[0.1, 0.2]] * 6,  # unknown columns are not even read
        },
    )
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (2, 4, 1)
    papers = _papers(engine)
    assert papers["2406.09415"]["categories"] == ["cs.CL", "cs.LG"]
    assert papers["2406.00005"]["authors"] == ["Bo Chen", "Cy Dee"]
    assert set(_reject_lines(data_dir)) == {"row 2", "row 3", "row 4", "row 5"}


def test_parquet_with_wrong_column_types_rejects_each_row(engine, data_dir, tmp_path):
    path = tmp_path / "papers.parquet"
    _parquet(path, {"arxiv_id": ["2406.00001", "2406.00002"], "abstract": [1, 2]})
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 2, 2)
    assert all("abstract must be text" in r for r in _reject_lines(data_dir).values())


def test_format_is_sniffed_without_a_file_name():
    jsonl = io.BytesIO(b'\n{"arxiv_id": "2406.09415", "abstract": "x"}\n')
    csv_ = io.BytesIO(b"\xef\xbb\xbfarxiv_id,abstract\n2406.09415,x\n")
    buf = io.BytesIO()
    pq.write_table(pa.table({"arxiv_id": ["2406.09415"], "abstract": ["x"]}), buf)
    buf.seek(0)
    for f in (jsonl, csv_, buf):
        (rec,) = table.read(f, "stream")
        assert isinstance(rec, PaperRecord) and (rec.arxiv_id, rec.abstract) == ("2406.09415", "x")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("One paragraph.\nTwo paragraph.", "One paragraph.\nTwo paragraph."),  # clean text: kept
        ("  Raw arXiv text\nwrapped here.\n  New paragraph.", "Raw arXiv text wrapped here.\nNew paragraph."),
        ("Spaces   inside\t\tcollapse.\n\n\nBlank lines go.", "Spaces inside collapse.\nBlank lines go."),
    ],
)
def test_abstract_newlines(value, expected):
    assert table.abstract(value) == expected
    assert table.abstract(expected) == expected  # idempotent: an export reads back unchanged


def test_unreadable_parquet_is_one_reject():
    out = list(table.read(io.BytesIO(b"PAR1 this is not parquet"), "x.parquet"))
    assert len(out) == 1 and isinstance(out[0], Reject) and out[0].location == "file"


def test_cli_exit_status(engine, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(_line({"arxiv_id": "2406.09415", "abstract": "x"}))
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"arxiv_id,abstract\n2406.09416,x\n2406.09417,\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_line({"arxiv_id": "2406.09418"}))
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(good)]).exit_code == 0
    assert runner.invoke(cli, ["ingest", str(mixed)]).exit_code == 1
    assert runner.invoke(cli, ["ingest", "--format", "table", str(bad)]).exit_code == 2


def test_hugging_face_columns_from_csv_and_bad_ones_rejected(engine, data_dir, tmp_path):
    path = tmp_path / "papers.csv"
    path.write_text(
        "arxiv_id,abstract,github_repo,github_stars,ai_keywords,ai_summary\n"
        '2406.00001,First.,https://github.com/a/b,12,"[""ssm"", ""scan""]",Short.\n'
        "2406.00002,Second.,ftp://example.org/x,,,\n"
        "2406.00003,Third.,,-4,,\n"
        '2406.00004,Fourth.,,,"{""a"": 1}",\n'
    )
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected) == (1, 3)
    stored = _papers(engine)["2406.00001"]
    assert (stored["github_repo"], stored["github_stars"], stored["ai_keywords"], stored["ai_summary"]) == (
        "https://github.com/a/b", 12, ["ssm", "scan"], "Short.")
    reasons = _reject_lines(data_dir)
    assert "http(s) URL" in reasons["line 3"]
    assert "non-negative integer" in reasons["line 4"]
    assert "list of text" in reasons["line 5"]
