"""
Hugging Face Daily Papers: the curated list of the day, with its upvotes.

Two shapes are read.  The live `GET /api/daily_papers` answer is a JSON array
whose items nest the paper under `paper` (`id`, `title`, `summary`, `authors`
as `[{"name": ...}]`, `publishedAt` = the arXiv date, `upvotes`) and add
`submittedOnDailyAt`, `submittedOnDailyBy` (a Hub user: `user`/`name`,
`fullname`), `numComments`, ... — the fields `huggingface_hub`'s `PaperInfo`
reads.  Mirrors publish a simplified document, `{"date": "2026-10-03",
"papers": [{"id", "title", "authors": [names], "summary", "upvotes",
"publishedAt", ...}]}`, whose top-level `date` is the day of the list.

Either way the input is one JSON document, so it is read whole, but only up to
`MAX_DOCUMENT` bytes; a larger file is refused with one file-level reject.
Each paper inside is then validated on its own: a bad paper is rejected as
"paper N" and the others are still stored.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import BinaryIO

import orjson

from paperfeed import ids
from paperfeed.ingest import clean, http
from paperfeed.ingest.records import DailyInfo, PaperRecord, Reject

SOURCE = "hf-daily"
# A day's list is ~100 KB and a month's a few MB; 32 MiB leaves room while
# keeping a wrong or hostile input from being parsed into memory.
MAX_DOCUMENT = 32 * 1024 * 1024
MAX_SUBMITTER = 200  # daily_entries.submitted_by_name is VARCHAR(200)


def read(f: BinaryIO, origin: str) -> Iterator[PaperRecord | Reject]:
    data = f.read(MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        yield Reject(origin, "file", f"document larger than {MAX_DOCUMENT} bytes; split it or use JSON lines")
        return
    yield from parse_document(data, origin)


def fetch(url: str, origin: str) -> Iterator[PaperRecord | Reject]:
    """GET a live `/api/daily_papers` URL (retried politely by `http.get`) and read the answer.

    A failed request raises `http.FetchError` (an `OSError`), which the ingest
    runner reports as a failed input, as for the arXiv sources.
    """
    # No per-request pause: a daily list is one request, and arXiv's 3-second
    # etiquette (`arxiv_delay`) is arXiv's, not Hugging Face's.
    body = http.get(url, delay=0.0)
    yield from read(io.BytesIO(body), origin)


def parse_document(data: bytes, origin: str) -> Iterator[PaperRecord | Reject]:
    """Records of a whole daily-papers document (either shape)."""
    try:
        doc, suspect = _load(data)
    except ValueError as e:
        yield Reject(origin, "file", str(e), _excerpt(data))
        return
    if isinstance(doc, list):
        items, list_day = doc, None
    elif isinstance(doc, dict) and isinstance(doc.get("papers"), list):
        items = doc["papers"]
        try:
            list_day = clean.day(doc["date"]) if doc.get("date") is not None else None
        except ValueError as e:
            yield Reject(origin, "file", f"bad top-level date: {e}")
            return
    else:
        yield Reject(origin, "file", "expected a JSON array of daily papers or an object with a `papers` array")
        return
    for number, item in enumerate(items, 1):
        location = f"paper {number}"
        if suspect and "\ufffd" in orjson.dumps(item).decode():
            yield Reject(origin, location, "invalid UTF-8", _item_id(item))
            continue
        try:
            yield to_record(item, list_day, location)
        except (ValueError, TypeError) as e:
            yield Reject(origin, location, str(e), _item_id(item))


def to_record(item, list_day: date | None, location: str) -> PaperRecord:
    """One daily-list item, live (`{"paper": {...}, ...}`) or flat, as a record."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        raise ValueError(f"paper must be an object, got {type(paper).__name__}")
    raw_id = paper.get("id") or item.get("id")
    if not raw_id:
        raise ValueError("missing id")
    arxiv_id, _ = ids.parse(raw_id)  # HF ids carry no version; a suffix says nothing about ours
    day = list_day or _submission_day(item, paper)
    return PaperRecord(
        arxiv_id=arxiv_id,
        source=SOURCE,
        version=None,
        title=clean.text(_first(paper, item, "title"), "title"),
        authors=clean.authors(_first(paper, item, "authors")),
        abstract=clean.abstract(_first(paper, item, "summary")),
        published=clean.timestamp(paper.get("publishedAt") if "paper" in item else item.get("publishedAt")),
        daily=DailyInfo(day=day, upvotes=_upvotes(paper, item), submitted_by=_submitter(paper, item),
                        curated=True, submitted_at=_submitted_at(item, paper)),
        location=location,
        **_hub_fields(paper, item),
    )


def _hub_fields(paper: dict, item: dict) -> dict:
    """`githubRepo`, `projectPage`, `githubStars`, `ai_summary`, `ai_keywords`: inside
    `paper` in the live shape, beside the paper's other fields in the mirror's."""
    return {
        "github_repo": clean.web_url(_first(paper, item, "githubRepo"), "githubRepo"),
        "project_page": clean.web_url(_first(paper, item, "projectPage"), "projectPage"),
        "github_stars": clean.count(_first(paper, item, "githubStars"), "githubStars"),
        "ai_summary": clean.abstract(_first(paper, item, "ai_summary")),
        "ai_keywords": clean.keywords(_first(paper, item, "ai_keywords"), "ai_keywords"),
    }


def _submitted_at(item: dict, paper: dict) -> datetime | None:
    """When the paper joined the list (`submittedOnDailyAt`), when the document says."""
    value = item.get("submittedOnDailyAt") or paper.get("submittedOnDailyAt")
    return clean.timestamp(value) if value else None


def _load(data: bytes) -> tuple[object, bool]:
    """The parsed document, and whether it had invalid UTF-8 (replaced by U+FFFD)."""
    try:
        return orjson.loads(data), False
    except orjson.JSONDecodeError as e:
        error = e
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # Bad bytes make the whole document unparseable; parse it with them replaced
        # so only the papers that contain them are lost.
        try:
            return orjson.loads(data.decode("utf-8", "replace")), True
        except orjson.JSONDecodeError as e:
            error = e
    raise ValueError(f"invalid JSON: {error}")


def _first(paper: dict, item: dict, key: str):
    """The paper's own field, else the list item's (the live shape repeats title/summary)."""
    value = paper.get(key)
    return value if value is not None else item.get(key)


def _submission_day(item: dict, paper: dict) -> date:
    # Live items: `submittedOnDailyAt` (on the item or its paper) is when it joined the
    # list; `huggingface_hub` also reads the item's own `publishedAt` as that time.
    for value in (item.get("submittedOnDailyAt"), paper.get("submittedOnDailyAt"),
                  item.get("publishedAt") if "paper" in item else None):
        if value:
            return clean.day(value)
    raise ValueError("no daily date: neither a top-level `date` nor `submittedOnDailyAt`")


def _upvotes(paper: dict, item: dict) -> int:
    value = _first(paper, item, "upvotes")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"upvotes must be a non-negative integer, got {value!r}"[:120])
    return value


def _submitter(paper: dict, item: dict) -> str | None:
    by = next(
        (v for v in (item.get("submittedOnDailyBy"), item.get("submittedBy"), paper.get("submittedOnDailyBy")) if v),
        None,
    )
    if by is None:
        return None
    if isinstance(by, dict):  # a Hub user: `user` (PaperInfo) or `name` (the API) is the username
        by = by.get("user") or by.get("name") or by.get("fullname")
    name = clean.text(by, "submittedOnDailyBy")
    if name is not None and len(name) > MAX_SUBMITTER:
        raise ValueError(f"submitter name longer than {MAX_SUBMITTER} characters")
    return name


def _item_id(item) -> str:
    if isinstance(item, dict):
        paper = item.get("paper") if isinstance(item.get("paper"), dict) else item
        return str(paper.get("id", ""))[:80]
    return ""


def _excerpt(raw: bytes) -> str:
    return raw[:200].decode("utf-8", "replace").strip()
