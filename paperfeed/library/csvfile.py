"""
The library as CSV: `arxiv_id,title,collection,note,saved_at`, one row per
paper in each of its collections (a paper in no collection has one row with
an empty `collection`), so a spreadsheet filters by collection and a re-import
puts every paper back where it was.  Reading accepts any CSV with an
`arxiv_id` (an id or URL) or a `title` column; other columns are optional.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime

from paperfeed import ids
from paperfeed.library.entries import ImportEntry

COLUMNS = ("arxiv_id", "title", "collection", "note", "saved_at")


def looks_like_csv(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0].lower()
    names = [c.strip().strip('"') for c in first.split(",")]
    return "arxiv_id" in names or ("title" in names and len(names) > 1)


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 date or time (UTC when no zone is given); None when empty or not one."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read(text: str) -> tuple[list[ImportEntry], str | None]:
    """The rows of a CSV text as entries, and a problem with the whole file (or None)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
    if "arxiv_id" not in fields and "title" not in fields:
        return [], "a CSV import needs an arxiv_id or a title column"
    reader.fieldnames = fields
    entries = []
    try:
        for row in reader:
            line = f"line {reader.line_num}"
            raw_id = (row.get("arxiv_id") or "").strip()
            entry = ImportEntry(location=line, key=raw_id or (row.get("title") or "")[:80])
            if raw_id:
                try:
                    entry.arxiv_id, entry.how = ids.canonical(raw_id), "arxiv_id"
                except ids.BadArxivId:
                    entry.problem = f"{raw_id[:80]!r} is not an arXiv id or URL"
            entry.title = " ".join((row.get("title") or "").split()) or None
            if not entry.arxiv_id and not entry.title and not entry.problem:
                entry.problem = "neither arxiv_id nor title"
            collection = (row.get("collection") or "").strip()
            entry.collections = [collection] if collection else None
            entry.note = row.get("note") or None
            raw_time = row.get("saved_at") or ""
            entry.saved_at = parse_time(raw_time)
            if raw_time.strip() and entry.saved_at is None and not entry.problem:
                entry.warning = f"saved_at {raw_time[:40]!r} is not an ISO date; now used"
            entries.append(entry)
    except csv.Error as e:
        return entries, f"CSV error on line {reader.line_num}: {e}"
    return entries, None


def write(rows: Iterable[tuple[str, str, str, str, datetime]]) -> str:
    """CSV text of (arxiv_id, title, collection, note, saved_at) rows, header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for arxiv_id, title, collection, note, saved_at in rows:
        writer.writerow([arxiv_id, title or "", collection, note, saved_at.isoformat()])
    return out.getvalue()
