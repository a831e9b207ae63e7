"""
Tabular paper datasets: JSON lines, CSV (or TSV) and Parquet, one paper per row.

A table needs an `arxiv_id` (or `id`) and an `abstract` column.  These columns
are used when present, others are ignored: title, authors (a list, "A, B and
C", or in CSV a JSON-encoded list), categories (a list or space-separated),
primary_category, comments, journal_ref, doi, report_no, license, submitter,
published, updated, version, versions (a list of {version, created}, JSON in
CSV), and what Hugging Face knows of a paper: github_repo, project_page (http(s)
URLs), github_stars, ai_summary, ai_keywords (a list, JSON in CSV).  A `links`
column (an export's) is not read: code and project links are found again in
the comments and abstract when the paper is written, as for every source.  Column names are matched case-insensitively with `-` read as `_`, so the
Kaggle spellings `journal-ref` and `report-no` work too.  This is also the
format `paperfeed export` writes, and reading an export back stores exactly
what was exported.

The format is sniffed from the first bytes (`PAR1` is Parquet, `{` JSON lines,
anything else CSV).  Every reader streams: Parquet one row group at a time,
CSV and JSON lines one line at a time, so one bad row never stops the others.
Bad rows are rejected as "line N" (JSON lines, CSV: the line the row starts on)
or "row N" (Parquet).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

import orjson

from paperfeed import ids
from paperfeed.ingest import clean
from paperfeed.ingest.lines import MAX_LINE, json_lines
from paperfeed.ingest.records import PaperRecord, Reject

SOURCE = "table"
COLUMNS = {
    "arxiv_id", "id", "abstract", "title", "authors", "categories", "primary_category", "comments",
    "journal_ref", "doi", "report_no", "license", "submitter", "published", "updated", "version", "versions",
    "github_repo", "project_page", "github_stars", "ai_summary", "ai_keywords",
}
TEXT_COLUMNS = ("title", "primary_category", "comments", "journal_ref", "doi", "report_no", "license", "submitter")
PARQUET_BATCH = 1_000  # rows per batch handed to Python; memory stays at one row group
_RAW_ARXIV_BREAK = re.compile(r"\n[ \t]")
_BOM = b"\xef\xbb\xbf"


def read(f: BinaryIO, origin: str) -> Iterator[PaperRecord | Reject]:
    head = _peek(f)
    if head.startswith(b"PAR1"):
        rows = _parquet_rows(f, origin)
    elif head.lstrip(_BOM + b" \t\r\n").startswith(b"{"):
        rows = _jsonl_rows(f, origin)
    else:
        rows = _csv_rows(f, origin)
    for item in rows:
        if isinstance(item, Reject):
            yield item
            continue
        location, row, from_csv = item
        try:
            yield to_record(row, location, from_csv)
        except (ValueError, TypeError) as e:
            yield Reject(origin, location, str(e), _row_id(row))


def to_record(row: dict, location: str, from_csv: bool = False) -> PaperRecord:
    """One row (canonical column names) as a record; raises ValueError on bad values."""
    if from_csv:  # CSV has no null: an empty cell is a missing value
        row = {k: (v if v != "" else None) for k, v in row.items()}
    raw_id = row.get("arxiv_id") if row.get("arxiv_id") is not None else row.get("id")
    if raw_id is None or raw_id == "":
        raise ValueError("missing arxiv_id")
    arxiv_id, id_version = ids.parse(raw_id)
    version = _version(row.get("version")) if row.get("version") is not None else id_version
    versions = _versions(_json_cell(row.get("versions"), "versions") if from_csv else row.get("versions"))
    authors = row.get("authors")
    categories = row.get("categories")
    keywords, stars = row.get("ai_keywords"), row.get("github_stars")
    if from_csv:
        authors = _json_cell(authors, "authors")
        categories = _json_cell(categories, "categories")
        keywords = _json_cell(keywords, "ai_keywords")
        stars = int(stars) if isinstance(stars, str) and stars.strip().isdigit() else stars
    cats = clean.categories(categories)
    rec = PaperRecord(
        arxiv_id=arxiv_id,
        source=SOURCE,
        version=version,
        versions=versions,
        authors=clean.authors(authors),
        abstract=abstract(row.get("abstract")),
        categories=cats,
        published=clean.timestamp(row.get("published")),
        updated=clean.timestamp(row.get("updated")),
        location=location,
        github_repo=clean.web_url(row.get("github_repo"), "github_repo"),
        project_page=clean.web_url(row.get("project_page"), "project_page"),
        github_stars=clean.count(stars, "github_stars"),
        ai_summary=abstract(row.get("ai_summary"), "ai_summary"),
        ai_keywords=clean.keywords(keywords, "ai_keywords"),
        **{name: clean.text(row.get(name), name) for name in TEXT_COLUMNS},
    )
    if rec.primary_category is None and cats:
        rec.primary_category = cats[0]
    dated = [d for _, d in versions if d is not None]
    if rec.published is None and dated:
        rec.published = min(dated)
    if rec.updated is None and dated:
        rec.updated = max(dated)
    return rec


def abstract(value, field: str = "abstract") -> str | None:
    """An abstract (or `ai_summary`) as tables hold it: each line is a paragraph.

    Exported and most published tables hold clean text where a newline separates
    paragraphs, which `clean.abstract` would fold into one (it reads a bare newline
    as arXiv's hard wrap).  Text still in arXiv's raw form (leading indent, or a
    newline followed by an indent marking a paragraph) goes through
    `clean.abstract`; anything else keeps its line breaks, so reading an export
    back is exact.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be text, got {type(value).__name__}")
    if value[:1] in (" ", "\t") or _RAW_ARXIV_BREAK.search(value):
        return clean.abstract(value)
    lines = (clean.text(line, field) for line in value.split("\n"))
    return "\n".join(line for line in lines if line) or None


def _version(value) -> int:
    if isinstance(value, float) and value.is_integer():  # integer columns with nulls, via pandas
        value = int(value)
    return clean.version_number(value)


def _versions(value) -> list[tuple[int, datetime | None]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"versions must be a list, got {type(value).__name__}")
    out = []
    for v in value:
        if isinstance(v, dict):
            out.append((_version(v.get("version")), clean.timestamp(v.get("created"))))
        elif isinstance(v, str | int) and not isinstance(v, bool):
            out.append((_version(v), None))
        else:
            raise ValueError("versions must be a list of {version, created} objects")
    return out


def _json_cell(value, name: str):
    """A CSV cell that may hold a JSON-encoded list (or, wrongly, an object)."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError(f"{name}: invalid JSON") from None
    return value


def _canonical(name) -> str:
    return str(name).strip().lower().replace("-", "_")


def _known(row: dict) -> dict:
    return {c: v for k, v in row.items() if (c := _canonical(k)) in COLUMNS}


def _row_id(row: dict) -> str:
    value = row.get("arxiv_id") or row.get("id") or ""
    return str(value)[:80]


def _peek(f: BinaryIO) -> bytes:
    if hasattr(f, "peek"):
        return f.peek(64)[:64]
    position = f.tell()
    head = f.read(64)
    f.seek(position)
    return head


# --- JSON lines -------------------------------------------------------------------------


def _jsonl_rows(f: BinaryIO, origin: str) -> Iterator[tuple[str, dict, bool] | Reject]:
    for item in json_lines(f, origin):
        if isinstance(item, Reject):
            yield item
        else:
            number, obj = item
            yield f"line {number}", _known(obj), False


# --- CSV --------------------------------------------------------------------------------


def _csv_rows(f: BinaryIO, origin: str) -> Iterator[tuple[str, dict, bool] | Reject]:
    """Rows of a CSV/TSV file, decoded line by line so one bad line spoils only its row.

    The csv module's own field size limit (128 KiB by default; it is process-wide,
    so we leave it alone) rejects absurd fields; lines are read in pieces of at most
    `MAX_LINE` bytes so memory stays bounded either way.
    """
    bad: dict[int, str] = {}  # line number -> why that line cannot be trusted
    lines = _decoded_lines(f, bad)
    first = next(lines, None)
    if first is None:
        yield Reject(origin, "file", "empty file")
        return
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(_chain(first, lines), delimiter=delimiter, strict=True)
    try:
        header = [_canonical(h) for h in next(reader)]
    except csv.Error as e:
        yield Reject(origin, "line 1", f"unreadable header: {e}")
        return
    if 1 in bad:
        yield Reject(origin, "line 1", f"header: {bad[1]}")
        return
    if "arxiv_id" not in header and "id" not in header:
        yield Reject(origin, "line 1", "no arxiv_id (or id) column")
        return
    if "abstract" not in header:
        yield Reject(origin, "line 1", "no abstract column")
        return
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            reason = "truncated row (unclosed quote at end of file)" if "unexpected end" in str(e) else str(e)
            yield Reject(origin, f"line {start}", reason)
            continue
        end = reader.line_num
        broken = [(n, bad[n]) for n in range(start, end + 1) if n in bad]
        for n in [n for n in bad if n <= end]:
            del bad[n]  # forget what is behind us: memory stays constant
        if broken:
            yield Reject(origin, f"line {broken[0][0]}", broken[0][1], _excerpt(cells))
            continue
        if not cells or cells == [""]:
            continue  # a blank line
        if len(cells) != len(header):
            yield Reject(origin, f"line {start}", f"expected {len(header)} fields, got {len(cells)}", _excerpt(cells))
            continue
        yield f"line {start}", {k: v for k, v in zip(header, cells, strict=True) if k in COLUMNS}, True


def _decoded_lines(f: BinaryIO, bad: dict[int, str]) -> Iterator[str]:
    """Text lines, endings kept; bad lines are yielded (so csv keeps its place) and noted in `bad`."""
    number = 0
    while raw := f.readline(MAX_LINE + 1):
        number += 1
        if number == 1:
            raw = raw.removeprefix(_BOM)
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # skip the remainder in bounded pieces
            bad[number] = f"line longer than {MAX_LINE} bytes"
            yield "\n"
            continue
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            bad[number] = f"invalid UTF-8 at byte {e.start}"
            yield raw.decode("utf-8", "replace")


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _excerpt(cells: list[str]) -> str:
    return ",".join(cells)[:80]


# --- Parquet ----------------------------------------------------------------------------


def _parquet_rows(f: BinaryIO, origin: str) -> Iterator[tuple[str, dict, bool] | Reject]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(f)
    except (pa.ArrowException, OSError) as e:
        yield Reject(origin, "file", f"unreadable Parquet: {e}")
        return
    wanted = {name: _canonical(name) for name in pf.schema_arrow.names if _canonical(name) in COLUMNS}
    canon = set(wanted.values())
    if not canon & {"arxiv_id", "id"}:
        yield Reject(origin, "file", "no arxiv_id (or id) column")
        return
    if "abstract" not in canon:
        yield Reject(origin, "file", "no abstract column")
        return
    row_number = 0
    for group in range(pf.num_row_groups):
        size = pf.metadata.row_group(group).num_rows
        try:
            # Only the columns we use are read: wide tables with embeddings cost nothing extra.
            for batch in pf.iter_batches(batch_size=PARQUET_BATCH, row_groups=[group], columns=list(wanted)):
                for row in batch.to_pylist():
                    row_number += 1
                    yield f"row {row_number}", {wanted[k]: v for k, v in row.items()}, False
        except (pa.ArrowException, OSError) as e:
            # A damaged row group loses its own rows only; the next group is read as usual.
            first = sum(pf.metadata.row_group(g).num_rows for g in range(group)) + 1
            yield Reject(origin, f"row group {group} (rows {first}-{first + size - 1})", f"unreadable: {e}")
            row_number = first + size - 1
