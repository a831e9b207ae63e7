"""
The shared, idempotent upsert: the only code that writes papers.

Merge rules, whatever the source:
- a record of a newer version than the stored one replaces the fields it carries;
- a record of an older version only fills fields the stored paper lacks
  (an older version never overwrites a newer one);
- a record of the same version (or neither with a version) replaces fields whose
  values differ;
- the version list is the union of all versions seen; `published` is the earliest date.
Each stored field remembers the source that supplied it.  Rows carry a content
hash, so ingesting the same input twice writes nothing the second time.

A batch is one transaction: killing an ingest loses at most the batch in flight,
and re-running it converges to the same database.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed import db
from paperfeed.ingest import links, paper_index
from paperfeed.ingest.records import PAPER_FIELDS, PaperRecord
from paperfeed.models import DailyEntry, Paper

papers = Paper.__table__
daily = DailyEntry.__table__

CONTENT = ("version", "versions", *PAPER_FIELDS)
_EMPTY = (None, [], "")
_LISTS = ("authors", "categories", "ai_keywords")
# CONTENT from `github_repo` on (added in migration 0006) is hashed only when one of
# them is set, so the rows stored before keep their hash and re-ingesting them is a no-op
_HUB_FIELDS = CONTENT.index("github_repo")


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    daily_entries: int = 0

    def add(self, other: Counts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.daily_entries += other.daily_entries


def content_hash(row: dict) -> str:
    return _hash(_hashed([row[k] for k in CONTENT]))


def _hashed(values: list) -> list:
    """`values` (of CONTENT) without the Hugging Face fields when they are all empty."""
    if all(v is None or v == [] or v == "[]" for v in values[_HUB_FIELDS:]):
        return values[:_HUB_FIELDS]
    return values


def _hash(values) -> str:
    payload = orjson.dumps(values, option=orjson.OPT_NAIVE_UTC)
    return hashlib.md5(payload, usedforsecurity=False).hexdigest()


def _record_version(rec: PaperRecord) -> int | None:
    known = [n for n, _ in rec.versions]
    if rec.version is not None:
        known.append(rec.version)
    return max(known) if known else None


def _merge_versions(stored: list[dict], versions: list[dict]) -> list[dict]:
    """The union of two version lists: a known creation date wins over a missing one."""
    by_number = {v["version"]: v.get("created") for v in stored}
    for v in versions:
        number, created = v["version"], v["created"]
        if created is not None or number not in by_number:
            by_number[number] = created
    return [{"version": n, "created": by_number[n]} for n in sorted(by_number)]


def _versions(rec: PaperRecord) -> list[dict]:
    """`rec`'s versions as stored: oldest first, one entry per number, ISO dates."""
    versions = [{"version": n, "created": None if c is None else c.isoformat()} for n, c in rec.versions]
    if all(a[0] < b[0] for a, b in itertools.pairwise(rec.versions)):  # in order, no repeats: nearly always
        return versions
    return _merge_versions([], versions)


# A staged record is a tuple: the values of the STAGED columns, JSON columns as JSON
# text, then the record's source and its daily-list entry (or None)
STAGED = ("arxiv_id", *CONTENT, "sources")
JSON_COLUMNS = frozenset(("versions", "authors", "categories", "sources", "ai_keywords"))
_SOURCE, _DAILY = len(STAGED), len(STAGED) + 1
_JSON_CONTENT = [i for i, name in enumerate(CONTENT) if name in JSON_COLUMNS]
Staged = tuple


def stage(rec: PaperRecord) -> Staged:
    """`rec` as the row it makes when its paper is new (content hash aside).

    A big ingest stages records in its reader process (prefetch.py), so the writer
    only hashes, compares and inserts; JSON columns travel as text, several times
    cheaper to send between processes than the lists and dicts they encode.
    Applying a record to a stored row gives the same result as applying its staged
    form (`merge` reads it back), so nothing is lost by staging early.
    """
    values: list = [_record_version(rec), _versions(rec)]
    sources = {}
    source = rec.source
    fields = rec.__dict__
    for name in PAPER_FIELDS:
        value = fields[name]
        if value is None or value == "" or value == []:
            values.append([] if name in _LISTS else None)
        else:
            values.append(value)
            sources[name] = source
    for i in _JSON_CONTENT:
        values[i] = db.json_text(values[i])
    return (rec.arxiv_id, *values, db.json_text(sources), source, rec.daily)


def staged_hash(rec: Staged) -> str:
    """`content_hash` of a staged record's row, computed without decoding its JSON text.

    Done by the writer, not the reader: at a million papers the reader is the
    slower half of the pipeline and this evens them out."""
    values = _hashed(list(rec[1:_SOURCE - 1]))
    for i in _JSON_CONTENT:
        if i < len(values):
            values[i] = orjson.Fragment(values[i])  # orjson writes JSON text as it is
    return _hash(values)


def _row(staged: Staged) -> dict:
    """A staged record's row with its JSON decoded, content hash not set."""
    row = dict(zip(STAGED, staged[:_SOURCE], strict=True))
    for name in JSON_COLUMNS:
        row[name] = orjson.loads(row[name])
    return row


def new_row(staged: Staged) -> dict:
    """The stored row (without revision) of a paper first seen in `staged`."""
    row = _row(staged)
    row["content_hash"] = staged_hash(staged)
    return row


def merge(old: dict, staged: Staged) -> dict:
    """The row that results from applying `staged` to the stored row `old` (content hash not set)."""
    source, new = staged[_SOURCE], _row(staged)
    row = dict(old)
    row["sources"] = dict(old["sources"])
    theirs, ours = new["version"], old["version"]  # the record's highest version, the stored one
    if theirs is not None and (ours is None or theirs > ours):
        mode = "newer"
    elif theirs == ours:
        mode = "same"
    else:
        mode = "older"
    for name in PAPER_FIELDS:
        value = new[name]
        if value in _EMPTY:
            continue
        current = row[name]
        if name == "published" and current is not None:
            # the first version's date: earliest wins, but only a versioned source knows it
            # exactly (Hugging Face's date-only publishedAt must not replace Kaggle's v1 time)
            take = theirs is not None and value < current
        elif mode == "older":
            take = current in _EMPTY
        else:
            take = current != value
        if take:
            row[name] = value
            row["sources"][name] = source
    row["versions"] = _merge_versions(old["versions"], new["versions"])
    if mode == "newer":
        row["version"] = theirs
    return row


def _load(conn, ids: list[str]) -> dict[str, dict]:
    cols = [papers.c.arxiv_id, papers.c.sources, papers.c.content_hash] + [papers.c[k] for k in CONTENT]
    rows = conn.execute(select(*cols).where(papers.c.arxiv_id.in_(ids))).mappings()
    return {r["arxiv_id"]: dict(r) for r in rows}


def _write_daily(conn, entries: dict[tuple, dict]) -> int:
    if not entries:
        return 0
    days = {d for d, _ in entries}
    ids = {a for _, a in entries}
    existing = {
        (r.day, r.arxiv_id): r
        for r in conn.execute(
            select(daily.c.id, daily.c.day, daily.c.arxiv_id, daily.c.imported_upvotes, daily.c.submitted_by_name)
            .where(daily.c.day.in_(days), daily.c.arxiv_id.in_(ids))
        )
    }
    now = datetime.now(UTC)
    inserts, updates = [], []
    for key, e in entries.items():
        have = existing.get(key)
        if have is None:
            inserts.append({**e, "created_at": e["created_at"] or now, "pinned": False, "hidden": False})
        elif (have.imported_upvotes, have.submitted_by_name) != (e["imported_upvotes"], e["submitted_by_name"]):
            updates.append({"_id": have.id, "u": e["imported_upvotes"], "s": e["submitted_by_name"]})
    if inserts:
        conn.execute(daily.insert(), inserts)
    if updates:
        conn.execute(
            update(daily).where(daily.c.id == bindparam("_id")).values(imported_upvotes=bindparam("u"), submitted_by_name=bindparam("s")),
            updates,
        )
    return len(inserts) + len(updates)


def write_batch(engine: Engine, records: list[PaperRecord | Staged]) -> Counts:
    """Upsert `records` in one transaction; retried once if a concurrent writer raced us."""
    staged = [r if isinstance(r, tuple) else stage(r) for r in records]
    for attempt in (1, 2):
        try:
            with db.writer(engine) as conn:
                return _write(conn, staged)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _write(conn, records: list[Staged]) -> Counts:
    counts = Counts()
    stored = _load(conn, list({r[0] for r in records}))
    # arxiv_id -> the row to write: a staged record while the paper is new and seen once
    # (inserted as it came, the fast path of a bulk load), else a merged row dict
    pending: dict[str, Staged | dict] = {}
    entries: dict[tuple, dict] = {}
    for rec in records:
        arxiv_id = rec[0]
        before = pending.get(arxiv_id) or stored.get(arxiv_id)
        if before is None:
            counts.new += 1
            pending[arxiv_id] = rec
        else:
            if isinstance(before, tuple):
                before = new_row(before)
            row = merge(before, rec)
            row["content_hash"] = content_hash(row)
            if row["content_hash"] != before["content_hash"] or row["sources"] != before["sources"]:
                counts.updated += 1
            else:
                counts.unchanged += 1
            pending[arxiv_id] = row
        daily = rec[_DAILY]
        if daily is not None:
            entries[(daily.day, arxiv_id)] = {
                "day": daily.day,
                "arxiv_id": arxiv_id,
                "curated": daily.curated,
                "imported_upvotes": daily.upvotes,
                "submitted_by_name": daily.submitted_by,
                "created_at": daily.submitted_at,  # None: when it is stored
            }
    inserts, updates = [], []
    for arxiv_id, row in pending.items():
        old = stored.get(arxiv_id)
        if old is None:
            inserts.append(row)
        elif (row["content_hash"], row["sources"]) != (old["content_hash"], old["sources"]):
            updates.append(row)
    if inserts or updates:
        revision = (conn.execute(select(func.coalesce(func.max(papers.c.revision), 0))).scalar() or 0) + 1
        if inserts:
            db.insert_rows(conn, papers, (*STAGED, "content_hash", "revision", "links"), [_insert_values(r, revision) for r in inserts], _INSERT_JSON)
            paper_index.write(conn, [_indexed(r) for r in inserts], new=True)
        if updates:
            # executemany with column-named keys: SQLAlchemy SETs exactly those columns
            cols = [*CONTENT, "sources", "content_hash"]
            stmt = update(papers).where(papers.c.arxiv_id == bindparam("_id"))
            conn.execute(stmt, [{"_id": u["arxiv_id"], "revision": revision, "links": paper_links(u["comments"], u["abstract"]),
                                 **{k: u[k] for k in cols}} for u in updates])
            renamed = [u for u in updates if (u["title"], u["authors"]) != (stored[u["arxiv_id"]]["title"], stored[u["arxiv_id"]]["authors"])]
            paper_index.write(conn, [_indexed(u) for u in renamed])
    counts.daily_entries = _write_daily(conn, entries)
    return counts


_TITLE, _AUTHORS = STAGED.index("title"), STAGED.index("authors")
_COMMENTS, _ABSTRACT = STAGED.index("comments"), STAGED.index("abstract")
_INSERT_JSON = JSON_COLUMNS | {"links"}


def paper_links(comments: str | None, abstract: str | None) -> list[dict] | None:
    """`papers.links`: the code and project links in a paper's comments and abstract."""
    return links.extract_json(comments, abstract)


def _indexed(row: Staged | dict) -> tuple:
    """(arxiv_id, title, authors) of a row to write, for the library's author and title index."""
    if isinstance(row, tuple):
        return row[0], row[_TITLE], orjson.loads(row[_AUTHORS])
    return row["arxiv_id"], row["title"], row["authors"]


def _insert_values(row: Staged | dict, revision: int) -> tuple:
    if isinstance(row, tuple):
        found = paper_links(row[_COMMENTS], row[_ABSTRACT])
        return (*row[:_SOURCE], staged_hash(row), revision, found and db.json_text(found))
    found = paper_links(row["comments"], row["abstract"])
    values = (db.json_text(row[k]) if k in JSON_COLUMNS else row[k] for k in STAGED)
    return (*values, row["content_hash"], revision, found and db.json_text(found))
