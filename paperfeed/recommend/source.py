"""
Where "For you" gets its inputs: a window's papers and a reader's library, from
the database and the built search index.

    window = source.window(conn, since)                  # papers first announced since `since`
    profile = source.profile(conn, user_id, window)      # saved, dismissed, followed
    source.rank(conn, window, profile, limit=20)         # recommend.rank, why-lines with saved titles
    source.profiles(conn, user_ids, window)              # many readers: one query per kind

Embeddings are read back from the search index (`index_vectors`, the one
function that knows its layout), never re-encoded; a paper the index does not
hold yet is left out.  Tf-idf rows are read from the index too
(`search.term_rows`: a corpus-wide term space fitted at `paperfeed index`),
so a window and the profiles scored against it share one term space without
tokenising anything; a paper without a stored row is turned into one in that
space.  An index built before rows were kept has no space: then the window
fits one on its own texts (bounded by `MAX_WINDOW`) and the profiles
re-tokenise their papers into it.  Upvotes are counted as the site counts them: the largest
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
from itertools import groupby
from operator import itemgetter

import numpy as np
from sqlalchemy import Connection, func, select

from paperfeed import db
from paperfeed.models import DailyEntry, Dismissal, Follow, Paper, SavedPaper, Vote
from paperfeed.recommend.profile import Profile
from paperfeed.recommend.spans import WINDOWS, since
from paperfeed.recommend.terms import FOR_YOU, TermSpace, paper_text
from paperfeed.recommend.window import Window, unit_rows
from paperfeed.search.store import IndexNotBuilt

__all__ = ["IndexNotBuilt", "MAX_WINDOW", "WINDOWS", "about", "index_vectors", "profile", "profiles", "rank", "since",
           "window"]

MAX_WINDOW = 30_000  # newest papers of a window ranked (a month of all arXiv is ~80,000)
MAX_LIBRARY = 2_000  # newest saved / dismissed papers a profile reads
WINDOW_SECONDS = 300
_KEPT = 4
_windows: OrderedDict[tuple, tuple[float, Window]] = OrderedDict()
_lock = threading.Lock()

papers = Paper.__table__


def index_vectors(arxiv_ids: list[str], index_dir=None) -> tuple[list[str], np.ndarray, str]:
    """(ids found, their float32 unit vectors, index generation id) from the served search index.

    Reads the generation's catalogue (arXiv id -> key) and its For-you matrix
    (each paper embedded as `PAPERFEED_FORYOU_VARIANT` says, `store.Generation.foryou_matrix`),
    or the search vectors' matrix for an index without one, as
    `paperfeed.search.similar` reads one paper's vector.
    """
    from paperfeed.search import store

    gen = store.current(index_dir)
    at, got = _vectors_at(gen, gen.key_array(arxiv_ids))
    return [arxiv_ids[i] for i in at.tolist()], got, gen.id


def _vectors_at(gen, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions in `ks` (index keys, -1: not indexed) of the papers `gen` holds a vector of,
    ascending; their float32 unit vectors, in that order).  A key may repeat (each place gets its row)."""
    from paperfeed.search import vectors

    dim = gen.meta.dim
    known = np.flatnonzero(ks >= 0)
    matrix = gen.foryou_matrix or gen.matrix
    at, got = np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    missing = known
    if matrix is not None and len(known):
        have = matrix.have(ks[known])
        at, missing = known[have], known[~have]
        if len(at):
            got = matrix.get(ks[at], unit=True)  # one float32 array for all of them
    extra = [(i, v) for i in missing.tolist()  # indexes built before the matrix format: the graph
             if (v := vectors.vector_of(gen.vectors, int(ks[i]))) is not None]
    if extra:
        at = np.concatenate([at, np.asarray([i for i, _ in extra], np.int64)])
        got = np.vstack([got, unit_rows(np.stack([v for _, v in extra]))])
        order = np.argsort(at, kind="stable")
        at, got = at[order], got[order]
    return at, got


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

    gen = store.current(index_dir)  # IndexNotBuilt before any work
    gen_id = gen.id
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
    listed = list(by_id)
    ks = gen.key_array(listed)
    at, vecs = _vectors_at(gen, ks)
    ids = [listed[i] for i in at.tolist()]
    votes = _upvotes(conn, start, end) if ids else {}
    stored = gen.term_rows
    if stored is not None:
        space = stored.space
        terms = _term_rows(stored, ids, ks[at], lambda some: [paper_text(by_id[i].title, by_id[i].abstract)
                                                              for i in some]) if ids else None
    else:  # an index built before term rows were kept: fit on the window
        texts = [paper_text(by_id[i].title, by_id[i].abstract) for i in ids]
        space = TermSpace.fit(texts, **FOR_YOU) if texts else None
        terms = space.rows(texts) if space else None
    built = Window.build(
        ids, vecs, categories=[by_id[i].categories or [] for i in ids],
        authors=[by_id[i].authors or [] for i in ids], upvotes=[votes.get(i, 0) for i in ids],
        terms=terms, space=space if terms is not None else None, key_terms=[by_id[i].key_terms for i in ids],
    )
    with _lock:
        _windows[cache_key] = (time.monotonic(), built)
        while len(_windows) > _KEPT:
            _windows.popitem(last=False)
    return built


def _term_rows(stored, ids: list[str], k: np.ndarray, texts_of):
    """CSR rows of `ids` (index keys `k`) in the index's term space: read where stored, else made
    from `texts_of(those ids)` (their texts, in order)."""
    from scipy import sparse

    have = stored.have(k)
    if have.all():
        return stored.get(k)
    out = [None] * len(ids)
    got = stored.get(k[have]) if have.any() else None
    for j, i in enumerate(np.flatnonzero(have)):
        out[i] = got[j]
    lacking = np.flatnonzero(~have)
    made = stored.space.rows(texts_of([ids[i] for i in lacking]))
    for j, i in enumerate(lacking):
        out[i] = made[j]
    return sparse.vstack(out, format="csr", dtype=np.float32)


def _rows(m, a: int, b: int):
    """Rows [a, b) of CSR matrix `m`, sharing its arrays (scipy's slice copies them)."""
    from scipy import sparse

    ptr = m.indptr[a : b + 1]
    lo, hi = int(ptr[0]), int(ptr[-1])
    return sparse.csr_matrix((m.data[lo:hi], m.indices[lo:hi], ptr - lo), shape=(b - a, m.shape[1]), copy=False)


def _texts(conn: Connection, ids: list[str]) -> list[str]:
    """The term-row texts (title and abstract) of `ids`, in order."""
    found: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        for r in conn.execute(select(papers.c.arxiv_id, papers.c.title, papers.c.abstract)
                              .where(papers.c.arxiv_id.in_(ids[i : i + 500]))):
            found[r.arxiv_id] = paper_text(r.title, r.abstract)
    return [found.get(i, "") for i in ids]


def _library(conn: Connection, table, user_ids: list[int], at_column) -> dict[int, list[str]]:
    """user id -> arXiv ids of their newest `MAX_LIBRARY` papers in `table`, newest first.
    Titles and key terms are read for the papers a why-line names (`about`), abstracts only for
    papers without a stored term row (`_texts`)."""
    rows = db.plain_rows(conn, select(table.c.user_id, table.c.arxiv_id).where(table.c.user_id.in_(user_ids))
                         .order_by(table.c.user_id, at_column.desc(), table.c.arxiv_id))
    return {uid: [aid for _, aid in mine][:MAX_LIBRARY] for uid, mine in groupby(rows, key=itemgetter(0))}


def about(conn: Connection, ids) -> dict[str, tuple[str, list[str] | None]]:
    """arxiv id -> (title, stored key terms) of those papers: what `ranking.explain` names of the
    saved papers in a why-line (profiles hold neither)."""
    wanted = sorted(set(ids))
    out: dict[str, tuple[str, list[str] | None]] = {}
    for i in range(0, len(wanted), 500):
        for r in conn.execute(select(papers.c.arxiv_id, papers.c.title, papers.c.key_terms)
                              .where(papers.c.arxiv_id.in_(wanted[i : i + 500]))):
            out[r.arxiv_id] = (r.title or "", r.key_terms)
    return out


def rank(conn: Connection, win: Window, prof: Profile, **options) -> list:
    """`ranking.rank` of a reader's profile, explained: the titles and key terms of the saved papers
    its why-lines name read in one query (`about`).  `options` are `ranking.rank`'s."""
    from paperfeed.recommend import ranking

    recs = ranking.rank(win, prof, explain_now=False, **options)
    named = about(conn, {n.arxiv_id for r in recs for n in r.closest})
    return [ranking.explain(r, named) for r in recs]


def profile(conn: Connection, user_id: int, win: Window, *, index_dir=None) -> Profile:
    """The reader's profile in `win`'s term space: saved and dismissed papers, follows."""
    return profiles(conn, [user_id], win, index_dir=index_dir)[user_id]


def profiles(conn: Connection, user_ids: list[int], win: Window, *, index_dir=None) -> dict[int, Profile]:
    """`profile` for many readers: one query per kind of library data for them all, and the
    vectors and term rows of all their papers read in one go, each reader's a slice of them.  A
    profile holds no titles or key terms: `rank`, or the digest's `About`, reads them for the
    saved papers a why-line names."""
    from paperfeed.search import store

    user_ids = list(dict.fromkeys(int(u) for u in user_ids))
    saved_t, dismissed_t, follows_t = SavedPaper.__table__, Dismissal.__table__, Follow.__table__
    saved = _library(conn, saved_t, user_ids, saved_t.c.saved_at)
    dismissed = _library(conn, dismissed_t, user_ids, dismissed_t.c.created_at)
    follows: dict[int, list] = {}
    for uid, kind, key in conn.execute(select(follows_t.c.user_id, follows_t.c.kind, follows_t.c.key)
                                       .where(follows_t.c.user_id.in_(user_ids))):
        follows.setdefault(uid, []).append((kind, key))

    # every reader's saved then dismissed ids, one after another: read at once, and each reader's
    # held rows are then one contiguous range of the vectors and term rows (views, no copies)
    lists = [saved.get(uid, []) for uid in user_ids] + [dismissed.get(uid, []) for uid in user_ids]
    flat = [a for ids in lists for a in ids]
    bounds = np.cumsum([0] + [len(ids) for ids in lists])
    dim = win.vectors.shape[1]
    at, vecs, terms = np.zeros(0, np.int64), np.zeros((0, dim), np.float32), None
    held_ids: list[str] = []
    if flat:
        gen = store.current(index_dir)
        ks = gen.key_array(flat)
        at, vecs = _vectors_at(gen, ks)
        held_ids = [flat[i] for i in at.tolist()]
        if win.space is not None and held_ids:
            stored = gen.term_rows
            if stored is not None and stored.space is win.space:
                terms = _term_rows(stored, held_ids, ks[at], lambda some: _texts(conn, some))
            else:  # the window fitted its own space (an index without rows)
                terms = win.space.rows(_texts(conn, held_ids))
    # held[i]: how many of the ids before list i are held, so list i's rows are held[i]:held[i + 1]
    held = np.searchsorted(at, bounds).tolist()

    def embedded(i: int):
        """(ids, vectors, term rows) of those of list i the index holds."""
        a, b = held[i], held[i + 1]
        return held_ids[a:b], vecs[a:b], _rows(terms, a, b) if terms is not None and b > a else None

    out = {}
    n = len(user_ids)
    for i, uid in enumerate(user_ids):
        s_ids, s_vecs, s_terms = embedded(i)
        d_ids, d_vecs, d_terms = embedded(n + i)
        follow = follows.get(uid, [])
        out[uid] = Profile.build(
            s_ids, s_vecs if s_ids else np.zeros((0, dim), np.float32),
            saved_terms=s_terms,
            dismissed_ids=dismissed.get(uid, []),  # hidden even when not indexed
            dismissed_vectors=d_vecs if d_ids else None, dismissed_terms=d_terms if d_ids else None,
            authors=[k for kind, k in follow if kind == "author"],
            categories=[k for kind, k in follow if kind == "category"],
        )
    return out
