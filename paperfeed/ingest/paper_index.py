"""
The author and title lookup index (for the library and author pages): which papers an author key names, and which paper a
folded title is.

Derived data, like the search indexes, but kept in the database because the
web reads it in the same queries as the library: `paper_authors` (one row per
author of a paper, by `names.author_key`, plus the surname-and-initial key that
groups namesakes) and `paper_titles` (the hash of `names.title_key`).  The
ingest upsert calls `write` in the transaction that stores the papers, so the
index is never behind the papers it describes; migration 0005 and `rebuild`
fill it for papers stored before it existed (or after the folding rules change).

Imported by `paperfeed.ingest.upsert`; it imports only the models, `db` and
`paperfeed.names`, so ingest never reaches up into the library.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from paperfeed import db
from paperfeed.models import Paper, PaperAuthor, PaperTitle
from paperfeed.names import MAX_KEY, author_key, short_key, title_hash

authors_table = PaperAuthor.__table__
titles_table = PaperTitle.__table__
_AUTHOR_COLUMNS = ("arxiv_id", "position", "short", "key")
_TITLE_COLUMNS = ("arxiv_id", "title_hash")
_CHUNK = 500  # ids per DELETE … IN (…)
REBUILD_BATCH = 5_000


def rows(papers: Iterable[tuple[str, str | None, list | None]]) -> tuple[list[tuple], list[tuple]]:
    """The index rows of `(arxiv_id, title, authors)` triples: (author rows, title rows)."""
    authors: list[tuple] = []
    titles: list[tuple] = []
    for arxiv_id, title, names in papers:
        for position, name in enumerate(names or ()):
            key = author_key(name)
            if key:
                authors.append((arxiv_id, position, short_key(key)[:MAX_KEY], key))
        digest = title_hash(title) if title else None
        if digest:
            titles.append((arxiv_id, digest))
    return authors, titles


def write(conn, papers: list[tuple[str, str | None, list | None]], new: bool = False) -> None:
    """Index `papers` (`(arxiv_id, title, authors)`), replacing what was indexed for them.

    `new`: none of them was stored before (a bulk load's inserts), so there is nothing to replace.
    """
    if not papers:
        return
    if not new:
        forget(conn, [p[0] for p in papers])
    authors, titles = rows(papers)
    if authors:
        db.insert_rows(conn, authors_table, _AUTHOR_COLUMNS, authors, frozenset())
    if titles:
        db.insert_rows(conn, titles_table, _TITLE_COLUMNS, titles, frozenset())


def forget(conn, arxiv_ids: list[str]) -> None:
    """Drop the index rows of these papers."""
    for at in range(0, len(arxiv_ids), _CHUNK):
        chunk = arxiv_ids[at : at + _CHUNK]
        conn.execute(delete(authors_table).where(authors_table.c.arxiv_id.in_(chunk)))
        conn.execute(delete(titles_table).where(titles_table.c.arxiv_id.in_(chunk)))


def rebuild(conn, batch_size: int = REBUILD_BATCH) -> int:
    """Refill the whole index from `papers`, in id order and batches; the number of papers read."""
    conn.execute(delete(authors_table))
    conn.execute(delete(titles_table))
    papers = Paper.__table__
    done, after = 0, None
    while True:
        query = select(papers.c.arxiv_id, papers.c.title, papers.c.authors)
        if after is not None:
            query = query.where(papers.c.arxiv_id > after)
        batch = conn.execute(query.order_by(papers.c.arxiv_id).limit(batch_size)).all()
        if not batch:
            return done
        write(conn, [tuple(r) for r in batch], new=True)
        done += len(batch)
        after = batch[-1][0]
