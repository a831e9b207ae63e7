"""
arXiv's OAI-PMH interface: reading saved responses and harvesting live.

`read` takes a ListRecords or GetRecord response in either of arXiv's rich
metadata formats: `arXivRaw` (every version with its date, submitter,
license) or `arXiv` (authors split into keyname/forenames, created/updated
dates).  Records whose header says `status="deleted"` are skipped, not
rejected: a deletion is a valid statement by the repository, not bad input,
and counting it as a reject would make a healthy harvest exit 1.  We keep our
copy (the database is the source of truth; arXiv itself never removes
papers).  `noRecordsMatch` is an empty answer, not a failure; any other OAI
error becomes a `Reject` with its code and message.

`fetch` harvests: ListRecords, following `resumptionToken`s until one is
empty, incrementally from the day the last complete harvest started (kept in
the `job_state` table under `oai:<base url>:<set>:<prefix>`) unless the URL
says `from=`.  Resuming after a crash: after each page's records, `fetch`
yields a `run.Checkpoint`; the runner commits the records yielded so far and
only then calls it, and it stores the token of the *next* page.  So the stored
token never runs ahead of the stored records, and a rerun continues where the
last committed page ended.  (A token stored before its page's records were
committed could skip records after a kill; storing the previous page's token
would work too, since the upsert is idempotent, but the runner batches across
pages, so "previous page" would not be enough.)  Resumption tokens expire; if
the stored one is refused (`badResumptionToken`) the harvest restarts from its
`from` date, which re-reads some records harmlessly.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed import ids
from paperfeed.ingest import clean, http, xmlsafe
from paperfeed.ingest.records import PaperRecord, Reject
from paperfeed.ingest.run import Checkpoint
from paperfeed.models import JobState

OAI = "{http://www.openarchives.org/OAI/2.0/}"
RAW = "{http://arxiv.org/OAI/arXivRaw/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
DEFAULT_PREFIX = "arXivRaw"  # the only format with every version's date
EMPTY_ANSWER = "noRecordsMatch"

jobs = JobState.__table__


@dataclass
class Page:
    """What one response said besides its records, filled in as they stream by."""

    response_date: str | None = None
    token: str | None = None  # None: no resumptionToken element; "": the last page
    error: tuple[str, str] | None = None  # (code, message)
    broken: bool = False  # the document broke off or was refused
    records: int = 0


def read(f: BinaryIO, origin: str) -> Iterator[PaperRecord | Reject]:
    page = Page()
    yield from _parse(f, origin, page)
    if page.error and page.error[0] != EMPTY_ANSWER:
        yield _error_reject(origin, "response", page.error)


def _parse(f: BinaryIO, origin: str, page: Page) -> Iterator[PaperRecord | Reject]:
    tags = (f"{OAI}record", f"{OAI}error", f"{OAI}resumptionToken", f"{OAI}responseDate")
    for item in xmlsafe.elements(f, origin, tags):
        if isinstance(item, Reject):
            page.broken = True
            yield item
        elif item.tag == f"{OAI}record":
            page.records += 1
            location = f"record {page.records} (line {item.sourceline})"
            try:
                record = to_record(item, origin, location)
            except ValueError as e:
                yield Reject(origin, location, str(e), _header_id(item))
                continue
            if record is not None:
                yield record
        elif item.tag == f"{OAI}resumptionToken":
            page.token = (item.text or "").strip()
        elif item.tag == f"{OAI}responseDate":
            page.response_date = (item.text or "").strip()
        elif page.error is None:  # the first error says enough
            page.error = (item.get("code") or "unknown", clean.text(item.text, "error") or "")


def to_record(record, origin: str, location: str) -> PaperRecord | Reject | None:
    """One OAI `<record>`; None when deleted, ValueError when unusable."""
    header = record.find(f"{OAI}header")
    if header is not None and header.get("status") == "deleted":
        return None
    metadata = record.find(f"{OAI}metadata")
    if metadata is None or len(metadata) == 0:
        raise ValueError("record has no metadata")
    meta = metadata[0]
    if meta.tag == f"{RAW}arXivRaw":
        return raw_record(meta, location)
    if meta.tag == f"{ARXIV}arXiv":
        return arxiv_record(meta, location)
    return Reject(origin, location, f"unsupported metadata format {meta.tag}", _header_id(record))


def raw_record(meta, location: str) -> PaperRecord:
    """metadataPrefix=arXivRaw: versions with RFC 2822 dates, authors as one string."""
    def text(name: str) -> str | None:
        return xmlsafe.child_text(meta, f"{RAW}{name}")

    versions = [
        (clean.version_number(v.get("version")), clean.timestamp(xmlsafe.child_text(v, f"{RAW}date")))
        for v in meta.iterfind(f"{RAW}version")
    ]
    versions.sort(key=lambda v: v[0])
    dated = [d for _, d in versions if d is not None]
    cats = clean.categories(text("categories"))
    return PaperRecord(
        arxiv_id=_arxiv_id(text("id")),
        source="oai:arXivRaw",
        version=versions[-1][0] if versions else None,
        versions=versions,
        title=clean.text(text("title"), "title"),
        authors=clean.authors(text("authors")),
        abstract=clean.abstract(text("abstract")),
        primary_category=cats[0] if cats else None,  # arXiv lists the primary first
        categories=cats,
        **clean.arxiv_text_fields(text),
        published=versions[0][1] if versions and versions[0][0] == 1 else (min(dated) if dated else None),
        updated=max(dated) if dated else None,
        location=location,
    )


def arxiv_record(meta, location: str) -> PaperRecord:
    """metadataPrefix=arXiv: `created` is version 1's date, `updated` the latest's (if any).

    The format does not say how many versions there are, so a record with an
    `updated` date claims no version number and only version 1's date.
    """
    def text(name: str) -> str | None:
        return xmlsafe.child_text(meta, f"{ARXIV}{name}")

    created = clean.timestamp(text("created"))
    updated = clean.timestamp(text("updated"))
    authors = []
    for a in meta.iterfind(f"{ARXIV}authors/{ARXIV}author"):
        parts = (xmlsafe.child_text(a, f"{ARXIV}{p}") for p in ("forenames", "keyname", "suffix"))
        name = clean.text(" ".join(p for p in parts if p), "author")
        if name:
            authors.append(name)
    cats = clean.categories(text("categories"))
    return PaperRecord(
        arxiv_id=_arxiv_id(text("id")),
        source="oai:arXiv",
        version=None if updated else 1,
        versions=[(1, created)] if created else [],
        title=clean.text(text("title"), "title"),
        authors=authors,
        abstract=clean.abstract(text("abstract")),
        primary_category=cats[0] if cats else None,
        categories=cats,
        **clean.arxiv_text_fields(text),  # the arXiv format has no submitter: None
        published=created,
        updated=updated or created,
        location=location,
    )


def fetch(
    url: str, origin: str, engine: Engine | None = None
) -> Iterator[PaperRecord | Reject | Checkpoint]:
    """Harvest `url` (ListRecords, resumable and incremental); other verbs are one request."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if params.get("verb", "ListRecords") != "ListRecords":  # GetRecord: nothing to resume
        yield from read(io.BytesIO(_request(base, params)), origin)
        return
    if engine is None:
        from paperfeed import db

        engine = db.connect()
    params.setdefault("metadataPrefix", DEFAULT_PREFIX)
    key = f"oai:{base}:{params.get('set', '')}:{params['metadataPrefix']}"[:200]
    with http.session() as client:
        yield from _harvest(base, params, origin, engine, key, client)


def _harvest(base, params, origin, engine, key, client) -> Iterator[PaperRecord | Reject | Checkpoint]:
    state = load_state(engine, key)
    args = {k: params[k] for k in ("metadataPrefix", "set", "from", "until") if params.get(k)}
    if "from" not in args and state.get("last"):
        args["from"] = state["last"]
    token = params.get("resumptionToken")
    if not token and state.get("token") and state.get("args") == args:
        token = state["token"]  # an interrupted harvest of the same range: continue it
    started = state.get("started") if token else None
    number, retried = 0, False
    while True:
        number += 1
        query = {"verb": "ListRecords", **({"resumptionToken": token} if token else args)}
        page = Page()
        yield from _parse(io.BytesIO(_request(base, query, client)), origin, page)
        if page.error:
            if page.error[0] == "badResumptionToken" and token and not retried:
                token, started, retried = None, None, True  # expired: start the range again
                continue
            if page.error[0] != EMPTY_ANSWER:
                yield _error_reject(origin, f"page {number}", page.error)
                return
        if page.broken:
            return  # the stored token still points at this page: a rerun tries it again
        started = started or _day(page.response_date)
        if page.token:
            token = page.token
            value = {"args": args, "token": token, "started": started, "last": state.get("last")}
        elif "until" in args:  # a bounded backfill does not move the incremental frontier
            value = {"last": state.get("last")}
        else:
            value = {"last": started}
        yield Checkpoint(lambda value=value: save_state(engine, key, value))
        if not page.token:
            return


def _request(base: str, params: dict, client=None) -> bytes:
    try:
        return http.get(base, params, client=client)
    except http.FetchError as e:
        # some OAI-PMH servers send errors with a 4xx status; the body still says which
        if e.status is not None and e.status < 500 and b"<OAI-PMH" in e.body[:4000]:
            return e.body
        raise


def load_state(engine: Engine, key: str) -> dict:
    with engine.connect() as conn:
        value = conn.execute(select(jobs.c.value).where(jobs.c.key == key)).scalar()
    return value if isinstance(value, dict) else {}


def save_state(engine: Engine, key: str, value: dict) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        changed = conn.execute(update(jobs).where(jobs.c.key == key).values(value=value, updated_at=now))
        if changed.rowcount:
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(jobs).values(key=key, value=value, updated_at=now))
    except IntegrityError:  # a concurrent harvest inserted it first; ours is as good
        save_state(engine, key, value)


def _day(response_date: str | None) -> str:
    try:
        return clean.day(response_date).isoformat()
    except ValueError:
        return datetime.now(UTC).date().isoformat()


def _arxiv_id(value: str | None) -> str:
    if not value or not value.strip():
        raise ValueError("missing id")
    return ids.canonical(value)


def _header_id(record) -> str:
    return xmlsafe.child_text(record, f"{OAI}header/{OAI}identifier") or ""


def _error_reject(origin: str, location: str, error: tuple[str, str]) -> Reject:
    code, message = error
    return Reject(origin, location, f"OAI-PMH error {code}: {message}")
