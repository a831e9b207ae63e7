"""
The Kaggle arXiv metadata snapshot (`arxiv-metadata-oai-snapshot.json`).

One JSON object per line with arXiv's OAI fields: `id`, `submitter`, `authors`,
`title`, `comments`, `journal-ref`, `doi`, `report-no`, `categories`, `license`,
`abstract`, `versions` ([{"version": "v1", "created": RFC 2822 date}]),
`update_date` and `authors_parsed`.  Streams with constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from paperfeed import ids
from paperfeed.ingest import clean
from paperfeed.ingest.lines import json_lines
from paperfeed.ingest.records import PaperRecord, Reject

SOURCE = "kaggle"


def looks_like(obj: dict) -> bool:
    return "id" in obj and ("versions" in obj or "authors_parsed" in obj)


def read(f: BinaryIO, origin: str) -> Iterator[PaperRecord | Reject]:
    for item in json_lines(f, origin):
        if isinstance(item, Reject):
            yield item
            continue
        number, obj = item
        try:
            yield to_record(obj, f"line {number}")
        except (ValueError, TypeError) as e:
            yield Reject(origin, f"line {number}", str(e), str(obj.get("id", ""))[:80])


def to_record(obj: dict, location: str) -> PaperRecord:
    if not obj.get("id"):
        raise ValueError("missing id")
    arxiv_id, version = ids.parse(obj["id"])
    versions = []
    for v in obj.get("versions") or []:
        if not isinstance(v, dict):
            raise ValueError("versions must be a list of objects")
        versions.append((clean.version_number(v.get("version")), clean.timestamp(v.get("created"))))
    parsed = obj.get("authors_parsed")
    authors = clean.authors_parsed(parsed) if parsed else clean.authors(obj.get("authors"))
    cats = clean.categories(obj.get("categories"))
    dated = [d for _, d in versions if d is not None]
    return PaperRecord(
        arxiv_id=arxiv_id,
        source=SOURCE,
        version=version or (max(n for n, _ in versions) if versions else None),
        versions=versions,
        title=clean.text(obj.get("title"), "title"),
        authors=authors,
        abstract=clean.abstract(obj.get("abstract")),
        primary_category=cats[0] if cats else None,
        categories=cats,
        **clean.arxiv_text_fields(obj.get),
        published=min(dated) if dated else None,
        updated=max(dated) if dated else clean.timestamp(obj.get("update_date")),
        location=location,
    )
