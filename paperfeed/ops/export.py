"""
Exporting the corpus: every stored paper as one flat record, in JSON lines or Parquet.

The columns are those of `paperfeed.ingest.table`, so an export is also an
ingest source: `paperfeed ingest papers.jsonl` into an empty database and a new
export give back the same bytes.  Besides arXiv's fields they hold what Hugging
Face knows of a paper (`github_repo`, `project_page`, `github_stars`,
`ai_summary`, `ai_keywords`) and the code and project `links` found in its
comments and abstract (`[{"kind", "url"}]`; found again from those when the
export is ingested, so they come back the same).  The last column, `key_terms`, is derived:
ingest does not read it, and `paperfeed index` computes it again (null until then).  Papers are streamed in arxiv_id order in
batches (server-side cursor on PostgreSQL), so memory does not grow with the
corpus.  Dates are ISO 8601 strings in UTC in both formats, so the two agree.

Alongside the data, `export_papers` returns a per-column summary in the manner
of a dataset viewer: type, non-null count, and min/max length (text), item count
(lists) or value (numbers, dates).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
from sqlalchemy import Engine, select

from paperfeed import db
from paperfeed.models import Paper

BATCH = 1_000
OTHER_TEXT = ("comments", "journal_ref", "doi", "report_no", "license", "submitter")
# column -> kind; the order is the order of the output
COLUMNS: dict[str, str] = {
    "arxiv_id": "string",
    "version": "int",
    "versions": "list<struct<version, created>>",
    "title": "string",
    "authors": "list<string>",
    "abstract": "string",
    "primary_category": "string",
    "categories": "list<string>",
    "comments": "string",
    "journal_ref": "string",
    "doi": "string",
    "report_no": "string",
    "license": "string",
    "submitter": "string",
    "published": "timestamp",
    "updated": "timestamp",
    "github_repo": "string",
    "project_page": "string",
    "github_stars": "int",
    "ai_summary": "string",
    "ai_keywords": "list<string>",
    "links": "list<struct<kind, url>>",
    "key_terms": "list<string>",  # derived by `paperfeed index` (search/key_terms.py)
}
HUB_SCALARS = ("github_repo", "project_page", "github_stars", "ai_summary")


def export_papers(fmt: str, output: Path | None, engine: Engine | None = None) -> str:
    """Write every paper to `output` (JSON lines to stdout when None); return column statistics."""

    if fmt not in ("jsonl", "parquet"):
        raise ValueError(f"unknown export format {fmt!r}")
    if fmt == "parquet" and output is None:
        raise ValueError("Parquet needs an output file")
    engine = engine or db.connect()
    stats = {name: ColumnStats(name, kind) for name, kind in COLUMNS.items()}
    batches = _batches(engine, stats)
    if output is None:
        out = sys.stdout.buffer
        for batch in batches:
            out.write(b"".join(orjson.dumps(r) + b"\n" for r in batch))
        out.flush()
    else:
        # Write beside the target and rename: an interrupted export never leaves a
        # half file that looks complete.
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        try:
            (_write_parquet if fmt == "parquet" else _write_jsonl)(batches, tmp)
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
    return render(stats.values())


def _batches(engine: Engine, stats: dict[str, ColumnStats]) -> Iterator[list[dict]]:
    table = Paper.__table__
    stmt = select(*[table.c[name] for name in COLUMNS]).order_by(db.binary_order(engine, table.c.arxiv_id))
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
        for chunk in result.mappings().partitions(BATCH):
            batch = [record(r) for r in chunk]
            for r in batch:
                for name, value in r.items():
                    stats[name].add(value)
            yield batch


def record(row) -> dict:
    """One stored paper as an export record (plain JSON types)."""
    return {
        "arxiv_id": row["arxiv_id"],
        "version": row["version"],
        "versions": [{"version": v["version"], "created": v.get("created")} for v in row["versions"] or []],
        "title": row["title"],
        "authors": list(row["authors"] or []),
        "abstract": row["abstract"],
        "primary_category": row["primary_category"],
        "categories": list(row["categories"] or []),
        **{name: row[name] for name in OTHER_TEXT},
        "published": _iso(row["published"]),
        "updated": _iso(row["updated"]),
        **{name: row[name] for name in HUB_SCALARS},
        "ai_keywords": list(row["ai_keywords"]) if row["ai_keywords"] else None,
        "links": [{"kind": link["kind"], "url": link["url"]} for link in row["links"]] if row["links"] else None,
        "key_terms": list(row["key_terms"]) if row["key_terms"] is not None else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _write_jsonl(batches: Iterator[list[dict]], path: Path) -> None:
    with path.open("wb") as f:
        for batch in batches:
            f.write(b"".join(orjson.dumps(r) + b"\n" for r in batch))


def parquet_schema():
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            pa.field("arxiv_id", text, nullable=False),
            pa.field("version", pa.int64()),
            pa.field("versions", pa.list_(pa.struct([("version", pa.int64()), ("created", text)]))),
            pa.field("title", text),
            pa.field("authors", pa.list_(text)),
            pa.field("abstract", text),
            pa.field("primary_category", text),
            pa.field("categories", pa.list_(text)),
            *[pa.field(name, text) for name in OTHER_TEXT],
            pa.field("published", text),
            pa.field("updated", text),
            pa.field("github_repo", text),
            pa.field("project_page", text),
            pa.field("github_stars", pa.int64()),
            pa.field("ai_summary", text),
            pa.field("ai_keywords", pa.list_(text)),
            pa.field("links", pa.list_(pa.struct([("kind", text), ("url", text)]))),
            pa.field("key_terms", pa.list_(text)),
        ]
    )


def _write_parquet(batches: Iterator[list[dict]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))


class ColumnStats:
    """Running statistics of one column, updated value by value (constant memory)."""

    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind
        self.count = self.non_null = 0
        self.low = self.high = None  # lengths (text, lists) or values (numbers, timestamps)

    def add(self, value) -> None:
        self.count += 1
        if value is None:
            return
        self.non_null += 1
        measure = value if self.kind in ("int", "timestamp") else len(value)
        if self.low is None or measure < self.low:
            self.low = measure
        if self.high is None or measure > self.high:
            self.high = measure

    @property
    def measure(self) -> str:
        if self.kind in ("int", "timestamp"):
            return "value"
        return "items" if self.kind.startswith("list") else "length"


def render(columns) -> str:
    """The statistics as a plain-text table."""
    columns = list(columns)
    total = columns[0].count if columns else 0
    head = ("column", "type", "non-null", "min", "max", "of")
    body = [
        (c.name, c.kind, f"{c.non_null}/{c.count}", _show(c.low), _show(c.high), c.measure if c.non_null else "")
        for c in columns
    ]
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
    lines = [f"{total} papers exported"]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in [head, *body]]
    lines.insert(2, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _show(value) -> str:
    return "" if value is None else str(value)
