"""The bulk-load fast paths store exactly what the plain paths store.

A big file is parsed, checked and staged in a reader process (prefetch.py) and
new papers are inserted without SQLAlchemy's per-value processing on SQLite
(db.insert_rows); neither may change a single stored byte, count or reject.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import select

from paperfeed import db
from paperfeed.ingest import prefetch
from paperfeed.ingest.run import ingest_sources
from paperfeed.ingest.upsert import JSON_COLUMNS, papers
from paperfeed.models import Paper
from tests.conftest import shared_data


def row(arxiv_id: str, **changes) -> dict:
    base = {
        "arxiv_id": arxiv_id, "version": 2, "title": "Ünïcode title", "abstract": "Text.",
        "versions": [{"version": 1, "created": "2007-04-02T19:18:42+00:00"}, {"version": 2, "created": None}],
        "authors": ["A. Author", "B. Bé"], "primary_category": "hep-ph", "categories": ["hep-ph", "cs.LG"],
        "comments": None, "journal_ref": None, "doi": "10.1/x", "report_no": None, "license": None,
        "submitter": "Sub Mitter", "sources": {"title": "kaggle", "abstract": "kaggle"},
        "published": datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC),
        "updated": datetime(2024, 1, 1, 23, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        "content_hash": "0" * 32, "revision": 7,
    }
    return base | changes


def test_insert_rows_stores_what_sqlalchemy_stores(engine):
    rows = [row("1"), row("2", published=None, updated=datetime(1999, 12, 31, 23, 59, 59)), row("3", authors=[], sources={})]
    columns = tuple(rows[0])
    with engine.begin() as conn:
        conn.execute(papers.insert(), [r | {"arxiv_id": "plain-" + r["arxiv_id"]} for r in rows])
        as_text = [tuple(orjson.dumps(r[c]).decode() if c in JSON_COLUMNS else r[c] for c in columns) for r in rows]
        db.insert_rows(conn, papers, columns, [(f"fast-{t[0]}", *t[1:]) for t in as_text], JSON_COLUMNS)
    with engine.connect() as conn:  # the driver's view: SQLite's stored text, PostgreSQL's values
        raw = {r[0]: r[1:] for r in conn.exec_driver_sql(f"SELECT {', '.join(columns)} FROM papers")}
    for r in rows:
        assert raw["fast-" + r["arxiv_id"]] == raw["plain-" + r["arxiv_id"]]


def test_plain_rows_reads_what_sqlalchemy_reads(engine):
    """`db.plain_rows` (the driver's tuples, integers written into the SQL) returns the rows a
    plain `execute` returns, in its order, and refuses parameters that are not integers."""
    from paperfeed.models import SavedPaper
    from tests.library_support import add_user

    users = [add_user(engine, name) for name in ("ada", "bob", "cy")]
    with engine.begin() as conn:
        conn.execute(papers.insert(), [row(f"2611.0000{i}") for i in range(4)])
        saved = SavedPaper.__table__
        conn.execute(saved.insert(), [{"user_id": u, "arxiv_id": f"2611.0000{i}", "note": "",
                                       "saved_at": datetime(2026, 11, 1 + i, tzinfo=UTC)}
                                      for u in users for i in range(4) if (u + i) % 3])
    stmt = (select(saved.c.user_id, saved.c.arxiv_id).where(saved.c.user_id.in_(users[:2] + [999]))
            .order_by(saved.c.user_id, saved.c.saved_at.desc(), saved.c.arxiv_id))
    with engine.connect() as conn:
        plain = db.plain_rows(conn, stmt)
        assert plain == [tuple(r) for r in conn.execute(stmt)]
        assert len(plain) > 3 and {u for u, _ in plain} == set(users[:2])
        odd = select(saved.c.user_id, saved.c.user_id % 2).order_by(saved.c.user_id, saved.c.arxiv_id)
        assert db.plain_rows(conn, odd) == [tuple(r) for r in conn.execute(odd)]  # % on PostgreSQL too
        assert db.plain_rows(conn, select(saved.c.arxiv_id).where(saved.c.user_id.in_([]))) == []
        for bad in (saved.c.arxiv_id == "2611.00001", saved.c.user_id.in_([users[0], True])):
            with pytest.raises(TypeError):
                db.plain_rows(conn, select(saved.c.user_id).where(bad))


def messy_file(path) -> None:
    """Real records plus every case the upsert and the reject log handle differently."""
    sample = [json.loads(line) for line in shared_data("arxiv-kaggle-sample.jsonl").open()]
    lines = [orjson.dumps(r) for r in sample]
    first = dict(sample[0])
    older = dict(first, versions=first["versions"][:1], title="An older title", doi=None)
    lines += [
        orjson.dumps(first),  # the same record again: unchanged
        orjson.dumps(older),  # an older version: only fills gaps (here there are none)
        orjson.dumps(dict(sample[1], title="A newer title", versions=[*sample[1]["versions"], {"version": "v9", "created": "Mon, 2 Apr 2029 19:18:42 GMT"}])),
        b'{"id": "0704.9999", "title": "no abstract", "versions": []}',
        b'{"title": "no id", "versions": []}',
        b"not json",
        b"[1, 2]",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def dump(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*Paper.__table__.c).order_by(Paper.arxiv_id))]


def test_reader_process_stores_and_rejects_exactly_as_in_process(engine, data_dir, tmp_path, monkeypatch):
    path = tmp_path / "messy.jsonl"
    messy_file(path)
    rejects = data_dir / "rejects.jsonl"

    def run(use_reader: bool, target):
        monkeypatch.setattr(prefetch, "worth_it", lambda _path: use_reader)
        monkeypatch.setattr(prefetch, "BATCH", 7)  # many messages, batches that split duplicates
        summary = ingest_sources([str(path)], batch_size=50, engine=target)
        logged = [{k: v for k, v in orjson.loads(line).items() if k != "at"} for line in rejects.read_bytes().splitlines()]
        rejects.unlink()
        return (summary.line(), summary.exit_status), logged, dump(target)

    plain_url = f"sqlite:///{tmp_path / 'plain.db'}"
    try:
        via_reader, in_process = run(True, engine), run(False, db.connect(plain_url))
    finally:
        db.dispose(plain_url)
    assert via_reader == in_process
    assert in_process[0] == ("read 203, new 200, updated 1, unchanged 2, rejected 4", 1)


def test_staged_hash_is_the_content_hash_of_the_row():
    from paperfeed.ingest import kaggle
    from paperfeed.ingest.upsert import content_hash, new_row, stage

    for number, line in enumerate(shared_data("arxiv-kaggle-sample.jsonl").open("rb"), 1):
        row = new_row(stage(kaggle.to_record(orjson.loads(line), f"line {number}")))
        assert row["content_hash"] == content_hash(row)  # from the JSON text as sent == from the values


def test_versions_are_stored_in_order_once_each_whatever_order_they_came_in():
    from paperfeed.ingest.records import PaperRecord
    from paperfeed.ingest.upsert import new_row, stage

    t1, t2 = datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)
    rec = PaperRecord("2001.00001", "test", versions=[(2, t2), (1, None), (1, t1), (2, None)], abstract="x")
    assert new_row(stage(rec))["versions"] == [{"version": 1, "created": t1.isoformat()}, {"version": 2, "created": t2.isoformat()}]
    rec = PaperRecord("2001.00001", "test", versions=[(1, t1), (3, None)], abstract="x")
    assert new_row(stage(rec))["versions"] == [{"version": 1, "created": t1.isoformat()}, {"version": 3, "created": None}]
