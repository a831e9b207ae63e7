"""
Exporting a reader's library, or one collection of it, as BibTeX, CSV or JSON.

    text = export_library(conn, user_id, "bibtex", collection="ideas")

BibTeX names each paper's collections in `keywords` and carries the note in
`annote` (re-imported, the same papers land in the same collections); CSV has
the columns the CSV import reads; JSON holds everything (collections with
descriptions, public flags and dates, notes, saved dates) and re-imports
exactly.  Papers come in the order they were saved, so exports are stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from paperfeed.library import bibtex, csvfile, jsonfile
from paperfeed.library import collection as coll
from paperfeed.library.saved import members, papers, saved
from paperfeed.models import User

FORMATS = ("bibtex", "csv", "json")
SUFFIXES = {"bibtex": ".bib", "csv": ".csv", "json": ".json"}


@dataclass
class _Row:
    arxiv_id: str
    title: str | None
    authors: list[str]
    published: datetime | None
    primary_category: str | None
    note: str
    saved_at: datetime
    collections: list[tuple[int, datetime]]  # (collection id, added_at), by id


def _rows(conn, user_id: int, only: coll.CollectionInfo | None) -> list[_Row]:
    query = (
        select(saved.c.arxiv_id, saved.c.note, saved.c.saved_at, papers.c.title, papers.c.authors,
               papers.c.published, papers.c.primary_category)
        .join(papers, papers.c.arxiv_id == saved.c.arxiv_id)
        .where(saved.c.user_id == user_id)
        .order_by(saved.c.saved_at, saved.c.arxiv_id)
    )
    if only is not None:
        query = query.join(members, (members.c.arxiv_id == saved.c.arxiv_id) & (members.c.collection_id == only.id))
    mine = select(coll.collections.c.id).where(coll.collections.c.user_id == user_id)
    held: dict[str, list[tuple[int, datetime]]] = {}
    for cid, arxiv_id, added in conn.execute(
        select(members.c.collection_id, members.c.arxiv_id, members.c.added_at)
        .where(members.c.collection_id.in_(mine)).order_by(members.c.collection_id)
    ):
        if only is None or cid == only.id:
            held.setdefault(arxiv_id, []).append((cid, added))
    return [
        _Row(r.arxiv_id, r.title, list(r.authors or []), r.published, r.primary_category, r.note, r.saved_at,
             held.get(r.arxiv_id, []))
        for r in conn.execute(query)
    ]


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat()


def library_document(conn, user_id: int, collection: int | str | None = None) -> dict:
    """The JSON export as a dict (what `export_user_data` embeds)."""
    only = coll.resolve(conn, user_id, collection) if collection is not None else None
    every = sorted(coll.list_collections(conn, user_id), key=lambda c: c.id)
    shown = [c for c in every if only is None or c.id == only.id]
    slug = {c.id: c.slug for c in every}
    username = conn.execute(select(User.__table__.c.username).where(User.__table__.c.id == user_id)).scalar()
    return jsonfile.document(
        user=username or "",
        exported_at=_iso(datetime.now(UTC)),
        collections=[
            {"slug": c.slug, "name": c.name, "description": c.description, "is_default": c.is_default,
             "is_public": c.is_public, "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at)}
            for c in shown
        ],
        papers=[
            {"arxiv_id": r.arxiv_id, "title": r.title, "note": r.note, "saved_at": _iso(r.saved_at),
             "collections": [{"slug": slug[cid], "added_at": _iso(added)} for cid, added in r.collections]}
            for r in _rows(conn, user_id, only)
        ],
    )


def export_library(conn, user_id: int, fmt: str = "bibtex", collection: int | str | None = None) -> str:
    """The reader's library (or one collection: id, slug or name) as text in `fmt` (one of FORMATS).

    NotFound for a collection the reader does not have.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if fmt == "json":
        return jsonfile.dumps(library_document(conn, user_id, collection))
    only = coll.resolve(conn, user_id, collection) if collection is not None else None
    names = {c.id: c.name for c in coll.list_collections(conn, user_id)}
    rows = _rows(conn, user_id, only)
    if fmt == "csv":
        # a row per collection holding the paper; one with an empty collection when none does
        return csvfile.write(
            (r.arxiv_id, r.title, names[cid] if cid is not None else "", r.note, r.saved_at)
            for r in rows for cid in ([c for c, _ in r.collections] or [None])
        )
    return bibtex.write(
        bibtex.BibPaper(r.arxiv_id, r.title, r.authors, r.published.year if r.published else None,
                        r.primary_category, [names[c] for c, _ in r.collections], r.note)
        for r in rows
    )
