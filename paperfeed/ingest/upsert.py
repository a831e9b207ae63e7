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
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed import db
from paperfeed.models import DailyEntry, Paper
from paperfeed.records import PAPER_FIELDS, PaperRecord

papers = Paper.__table__
daily = DailyEntry.__table__

CONTENT = ("version", "versions", *PAPER_FIELDS)
_EMPTY = (None, [], "")
_LISTS = ("authors", "categories")


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
    payload = orjson.dumps([row[k] for k in CONTENT], option=orjson.OPT_NAIVE_UTC)
    return hashlib.md5(payload, usedforsecurity=False).hexdigest()


def _record_version(rec: PaperRecord) -> int | None:
    known = [n for n, _ in rec.versions]
    if rec.version is not None:
        known.append(rec.version)
    return max(known) if known else None


def _merge_versions(stored: list[dict], rec: PaperRecord) -> list[dict]:
    by_number = {v["version"]: v.get("created") for v in stored}
    for number, created in rec.versions:
        if created is not None or number not in by_number:
            by_number[number] = created.isoformat() if created is not None else None
    return [{"version": n, "created": by_number[n]} for n in sorted(by_number)]


def new_row(rec: PaperRecord) -> dict:
    row: dict = {"arxiv_id": rec.arxiv_id, "version": _record_version(rec)}
    row["versions"] = _merge_versions([], rec)
    sources = {}
    source = rec.source
    for name in PAPER_FIELDS:
        value = getattr(rec, name)
        if value is None or value == "" or value == []:
            row[name] = [] if name in _LISTS else None
        else:
            row[name] = value
            sources[name] = source
    row["sources"] = sources
    return row


def merge(old: dict, rec: PaperRecord) -> dict:
    """The row that results from applying `rec` to the stored row `old`."""
    row = dict(old)
    row["sources"] = dict(old["sources"])
    theirs, ours = _record_version(rec), old["version"]
    if theirs is not None and (ours is None or theirs > ours):
        mode = "newer"
    elif theirs == ours:
        mode = "same"
    else:
        mode = "older"
    for name in PAPER_FIELDS:
        value = getattr(rec, name)
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
            row["sources"][name] = rec.source
    row["versions"] = _merge_versions(old["versions"], rec)
    if theirs is not None and (ours is None or theirs > ours):
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
            inserts.append({**e, "created_at": now, "pinned": False, "hidden": False})
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


def write_batch(engine: Engine, records: list[PaperRecord]) -> Counts:
    """Upsert `records` in one transaction; retried once if a concurrent writer raced us."""
    for attempt in (1, 2):
        try:
            with db.writer(engine) as conn:
                return _write(conn, records)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _write(conn, records: list[PaperRecord]) -> Counts:
    counts = Counts()
    stored = _load(conn, list({r.arxiv_id for r in records}))
    pending: dict[str, dict] = {}
    entries: dict[tuple, dict] = {}
    for rec in records:
        before = pending.get(rec.arxiv_id) or stored.get(rec.arxiv_id)
        row = new_row(rec) if before is None else merge(before, rec)
        row["content_hash"] = content_hash(row)
        if before is None:
            counts.new += 1
        elif row["content_hash"] != before["content_hash"] or row["sources"] != before["sources"]:
            counts.updated += 1
        else:
            counts.unchanged += 1
        if before is None or row is not before:
            pending[rec.arxiv_id] = row
        if rec.daily is not None:
            entries[(rec.daily.day, rec.arxiv_id)] = {
                "day": rec.daily.day,
                "arxiv_id": rec.arxiv_id,
                "curated": rec.daily.curated,
                "imported_upvotes": rec.daily.upvotes,
                "submitted_by_name": rec.daily.submitted_by,
            }
    changed = {
        k: v
        for k, v in pending.items()
        if k not in stored or (v["content_hash"], v["sources"]) != (stored[k]["content_hash"], stored[k]["sources"])
    }
    if changed:
        revision = (conn.execute(select(func.coalesce(func.max(papers.c.revision), 0))).scalar() or 0) + 1
        inserts = [{**v, "revision": revision} for k, v in changed.items() if k not in stored]
        updates = [{**v, "_id": k, "revision": revision} for k, v in changed.items() if k in stored]
        if inserts:
            conn.execute(papers.insert(), inserts)
        if updates:
            # executemany with column-named keys: SQLAlchemy SETs exactly those columns
            cols = ["_id", *CONTENT, "sources", "content_hash", "revision"]
            stmt = update(papers).where(papers.c.arxiv_id == bindparam("_id"))
            conn.execute(stmt, [{k: u[k] for k in cols} for u in updates])
    counts.daily_entries = _write_daily(conn, entries)
    return counts
