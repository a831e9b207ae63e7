"""
Where "For you" gets its inputs: a window's papers and a reader's library, from
the database and the built search index.

    window = source.window(conn, since)                  # papers first announced since `since`
    profile = source.profile(conn, user_id, window)      # saved, dismissed, followed
    recommend.rank(window, profile, limit=20)

Embeddings are read back from the search index (`index_vectors`, the one
function that knows its layout), never re-encoded; a paper the index does not
hold yet is left out.  The tf-idf vocabulary is fitted on the window's own
texts (bounded by `MAX_WINDOW`), so a window and the profiles scored against it
share one term space.  Upvotes are counted as the site counts them: the largest
imported count of a paper's daily entries plus this site's votes.  A window is
kept per process for `WINDOW_SECONDS` (windows start on the hour), so paging and
several readers share one build.  Raises `IndexNotBuilt` (from `paperfeed.search`)
before the first `paperfeed index`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, func, select

from paperfeed.models import DailyEntry, Dismissal, Follow, Paper, SavedPaper, Vote
from paperfeed.recommend.profile import Profile
from paperfeed.recommend.spans import WINDOWS, since
from paperfeed.recommend.terms import FOR_YOU, TermSpace, paper_text
from paperfeed.recommend.window import Window
from paperfeed.search.store import IndexNotBuilt

__all__ = ["IndexNotBuilt", "MAX_WINDOW", "WINDOWS", "index_vectors", "profile", "since", "window"]

MAX_WINDOW = 30_000  # newest papers of a window ranked (a month of all arXiv is ~80,000)
MAX_LIBRARY = 2_000  # newest saved / dismissed papers a profile reads
WINDOW_SECONDS = 300
_KEPT = 4
_windows: OrderedDict[tuple, tuple[float, Window]] = OrderedDict()
_lock = threading.Lock()

papers = Paper.__table__


def index_vectors(arxiv_ids: list[str], index_dir=None) -> tuple[list[str], np.ndarray, str]:
    """(ids found, their float32 vectors, index generation id) from the served search index.

    Reads the generation's catalogue (arXiv id -> key) and its For-you matrix
    (each paper embedded as `PAPERFEED_FORYOU_VARIANT` says, `store.Generation.foryou_matrix`),
    or the search vectors' matrix for an index without one, as
    `paperfeed.search.similar` reads one paper's vector.
    """
    from paperfeed.search import store, vectors

    gen = store.current(index_dir)
    keys = gen.keys_of(arxiv_ids)
    found = [a for a in arxiv_ids if a in keys]
    dim = gen.meta.dim
    if not found:
        return [], np.zeros((0, dim), np.float32), gen.id
    matrix = gen.foryou_matrix or gen.matrix
    out_ids, rows = [], []
    if matrix is not None:
        ks = np.asarray([keys[a] for a in found], np.int64)
        have = matrix.have(ks)
        got = matrix.get(ks[have]) if have.any() else np.zeros((0, dim), np.float32)
        out_ids = [a for a, h in zip(found, have.tolist(), strict=True) if h]
        rows = list(got)
        missing = [a for a, h in zip(found, have.tolist(), strict=True) if not h]
    else:
        missing = found
    for a in missing:  # indexes built before the matrix format: read from the graph
        vec = vectors.vector_of(gen.vectors, keys[a])
        if vec is not None:
            out_ids.append(a)
            rows.append(vec)
    return out_ids, (np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)), gen.id


def _upvotes(conn: Connection, start: datetime, end: datetime | None) -> dict[str, int]:
    entries, votes = DailyEntry.__table__, Vote.__table__
    in_window = [papers.c.published >= start] + ([papers.c.published < end] if end else [])
    out: dict[str, int] = {}
    imported = (select(entries.c.arxiv_id, func.max(entries.c.imported_upvotes))
                .join(papers, papers.c.arxiv_id == entries.c.arxiv_id).where(*in_window)
                .group_by(entries.c.arxiv_id))
    for a, n in conn.execute(imported):
        out[a] = n or 0
    site = (select(votes.c.arxiv_id, func.count()).join(papers, papers.c.arxiv_id == votes.c.arxiv_id)
            .where(*in_window).group_by(votes.c.arxiv_id))
    for a, n in conn.execute(site):
        out[a] = out.get(a, 0) + n
    return out


def window(conn: Connection, start: datetime, end: datetime | None = None, *, index_dir=None) -> Window:
    """The papers first announced in [start, end) (newest `MAX_WINDOW`), ready to rank."""
    from paperfeed.search import store

    gen_id = store.current(index_dir).id  # IndexNotBuilt before any work
    root = str(store.index_root(index_dir).resolve())
    cache_key = (start.isoformat(), end.isoformat() if end else None, root, gen_id)
    with _lock:
        hit = _windows.get(cache_key)
        if hit and time.monotonic() - hit[0] < WINDOW_SECONDS:
            return hit[1]
    where = [papers.c.published >= start] + ([papers.c.published < end] if end else [])
    rows = conn.execute(
        select(papers.c.arxiv_id, papers.c.title, papers.c.abstract, papers.c.authors, papers.c.categories,
               papers.c.key_terms)
        .where(*where).order_by(papers.c.published.desc()).limit(MAX_WINDOW)
    ).all()
    by_id = {r.arxiv_id: r for r in rows}
    ids, vecs, _ = index_vectors(list(by_id), index_dir)
    votes = _upvotes(conn, start, end) if ids else {}
    texts = [paper_text(by_id[i].title, by_id[i].abstract) for i in ids]
    space = TermSpace.fit(texts, **FOR_YOU) if texts else None
    built = Window.build(
        ids, vecs, categories=[by_id[i].categories or [] for i in ids],
        authors=[by_id[i].authors or [] for i in ids], upvotes=[votes.get(i, 0) for i in ids],
        texts=texts if space else None, space=space, key_terms=[by_id[i].key_terms for i in ids],
    )
    with _lock:
        _windows[cache_key] = (time.monotonic(), built)
        while len(_windows) > _KEPT:
            _windows.popitem(last=False)
    return built


def _papers_of(conn: Connection, table, user_id: int, at_column) -> list:
    return conn.execute(
        select(papers.c.arxiv_id, papers.c.title, papers.c.abstract, papers.c.key_terms)
        .join(table, table.c.arxiv_id == papers.c.arxiv_id)
        .where(table.c.user_id == user_id).order_by(at_column.desc()).limit(MAX_LIBRARY)
    ).all()


def profile(conn: Connection, user_id: int, win: Window, *, index_dir=None) -> Profile:
    """The reader's profile in `win`'s term space: saved and dismissed papers, follows."""
    saved_t, dismissed_t, follows_t = SavedPaper.__table__, Dismissal.__table__, Follow.__table__
    saved = _papers_of(conn, saved_t, user_id, saved_t.c.saved_at)
    dismissed = _papers_of(conn, dismissed_t, user_id, dismissed_t.c.created_at)
    follows = conn.execute(select(follows_t.c.kind, follows_t.c.key).where(follows_t.c.user_id == user_id)).all()

    def embedded(rows):
        by_id = {r.arxiv_id: r for r in rows}
        found, vecs, _ = index_vectors(list(by_id), index_dir) if by_id else ([], None, "")
        texts = [paper_text(by_id[i].title, by_id[i].abstract) for i in found]
        terms = win.space.rows(texts) if win.space is not None and found else None
        return found, vecs, terms, [by_id[i].title or "" for i in found], [by_id[i].key_terms for i in found]

    s_ids, s_vecs, s_terms, s_titles, s_keys = embedded(saved)
    d_ids, d_vecs, d_terms, _, _ = embedded(dismissed)
    return Profile.build(
        s_ids, s_vecs if s_ids else np.zeros((0, win.vectors.shape[1]), np.float32),
        saved_terms=s_terms, saved_titles=s_titles, saved_key_terms=s_keys,
        dismissed_ids=[r.arxiv_id for r in dismissed],  # hidden even when not indexed
        dismissed_vectors=d_vecs if d_ids else None, dismissed_terms=d_terms if d_ids else None,
        authors=[k for kind, k in follows if kind == "author"],
        categories=[k for kind, k in follows if kind == "category"],
    )
