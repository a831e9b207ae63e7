"""
The search pipeline: parse the query, find keyword and vector hits, fuse them,
read one page of papers and mark the matched words.

`paperfeed.search` (the package face) names what callers use; this module does
the work, one small function per stage:

    query.parse -> store.current (the served generation) -> ranked_keys
        (keyword.search | vectors.search | hybrid.fuse) -> _hits (papers, <mark>)

The query's vector comes from the encoder the index records
(`encoder.query_encoder`), which for the default CPU variant is ONNX Runtime
and the `tokenizers` library: neither torch nor transformers is imported.
Query vectors are kept per process (`_QUERY_CACHE`), so paging, repeated
queries and a digest's saved searches skip the encoder.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from paperfeed.models import Paper
from paperfeed.search import hybrid, keyword, neighbours, query, store, vectors
from paperfeed.search.results import MAX_LIMIT, MODES, Hit, SearchPage

_QUERY_CACHE = 4_096  # query embeddings: paging, repeated and digest queries skip the encoder

_vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_vectors_lock = threading.Lock()


def _encoder(encoder, gen: store.Generation):
    """`encoder`, or the one that built `gen` (found from the model_id it records)."""
    if encoder is None:
        from paperfeed.search.encoder import query_encoder

        return query_encoder(gen.meta.model_id)
    return encoder


def _remember(model_id: str, texts: list[str], vecs) -> None:
    with _vectors_lock:
        for text, vec in zip(texts, vecs, strict=True):
            _vectors[(model_id, text)] = vec
        while len(_vectors) > _QUERY_CACHE:
            _vectors.popitem(last=False)


def _query_vector(encoder, text: str) -> np.ndarray:
    key = (encoder.model_id, text)
    with _vectors_lock:
        if key in _vectors:
            _vectors.move_to_end(key)
            return _vectors[key]
    vec = np.asarray(encoder.encode_query(text), np.float32)
    _remember(encoder.model_id, [text], [vec])
    return vec


def encode_queries(texts: list[str], encoder=None, *, index_dir: Path | str | None = None) -> None:
    """Embed these queries in batches and keep them for the searches that follow.

    A digest run searches thousands of saved queries: batched, the encoder takes
    a fraction of the time it takes one query at a time.
    """
    if encoder is None:
        encoder = _encoder(None, store.current(index_dir))
    with _vectors_lock:
        todo = [t for t in dict.fromkeys(query.parse(t).text for t in texts)
                if t and (encoder.model_id, t) not in _vectors]
    for start in range(0, len(todo), _QUERY_CACHE // 4):
        part = todo[start : start + _QUERY_CACHE // 4]
        _remember(encoder.model_id, part, encoder.encode_queries(part))


def _semantic(gen: store.Generation, q: query.ParsedQuery, depth: int, vec: np.ndarray):
    if not (q.excluded or q.excluded_authors):
        return vectors.search(gen.vectors, vec, depth, gen.allowed(q), gen.matrix)
    # exclusions are checked on twice the candidates, then cut back to `depth`
    keys, sims = vectors.search(gen.vectors, vec, 2 * depth, gen.allowed(q), gen.matrix)
    keep = ~gen.rejected(q, keys)
    return keys[keep][:depth], sims[keep][:depth]


def vector_scorer(gen: store.Generation, vec: np.ndarray):
    """`keys -> cosines with vec`, which fusion uses for keyword hits the vector list
    lacks; None for an index without a vector matrix."""
    matrix = gen.matrix
    return None if matrix is None else functools.partial(vectors.similarities, matrix, vec)


def query_vector(gen: store.Generation, text: str, encoder=None) -> np.ndarray:
    """The query's unit vector from the encoder that built `gen` (refused if another)."""
    encoder = _encoder(encoder, gen)
    vectors.check_model(gen.meta.model_id, encoder.model_id)
    return _query_vector(encoder, text)


def ranked_keys(
    gen: store.Generation,
    q: query.ParsedQuery,
    mode: str,
    limit: int,
    offset: int = 0,
    encoder=None,
    fusion: hybrid.Fusion = hybrid.DEFAULT,
) -> tuple[int, np.ndarray, np.ndarray]:
    """(total, keys, scores) of one page, before the papers are read: the search pipeline."""
    q = gen.with_archives(q)
    if mode == "keyword" or not q.text:  # no words: filters only, newest first
        hits = keyword.search(gen.keyword, q, limit, offset, count=True)
        return hits.total, hits.keys, hits.scores
    vec = query_vector(gen, q.text, encoder)
    if mode == "semantic":  # the graph search visits ~EXPANSION_SEARCH nodes anyway
        keys, scores = _semantic(gen, q, max(offset + limit, vectors.EXPANSION_SEARCH), vec)
        return len(keys), keys[offset : offset + limit], scores[offset : offset + limit]
    depth = max(fusion.depth, offset + limit)
    kw = keyword.search(gen.keyword, q, depth)
    keys, scores = hybrid.fuse(
        (kw.keys, kw.scores), _semantic(gen, q, depth, vec), replace(fusion, depth=depth), vector_scorer(gen, vec)
    )
    return len(keys), keys[offset : offset + limit], scores[offset : offset + limit]


_COLUMNS = (Paper.arxiv_id, Paper.title, Paper.abstract, Paper.authors, Paper.categories,
            Paper.primary_category, Paper.published)


def _papers(db, arxiv_ids: list[str]) -> dict:
    """The shown fields of these papers, by id (plain rows: ORM objects cost ~3 ms a page)."""
    stmt = select(*_COLUMNS).where(Paper.arxiv_id.in_(arxiv_ids))
    if isinstance(db, (Session, Connection)):
        return {r.arxiv_id: r for r in db.execute(stmt)}
    if db is None:
        from paperfeed import db as database

        db = database.connect()
    with db.connect() as conn:
        return {r.arxiv_id: r for r in conn.execute(stmt)}


def _hits(db, gen: store.Generation, q: query.ParsedQuery, keys: np.ndarray, scores: np.ndarray) -> list[Hit]:
    by_key = gen.arxiv_ids(keys.tolist())
    papers = _papers(db, list(by_key.values())) if by_key else {}
    marker = keyword.Highlighter(gen.keyword, q)
    out = []
    for key, score in zip(keys.tolist(), scores.tolist(), strict=True):
        paper = papers.get(by_key.get(key, ""))
        if paper is None:  # deleted from the database since the index was built
            continue
        out.append(
            Hit(
                arxiv_id=paper.arxiv_id,
                score=float(score),
                title=paper.title or "",
                abstract=paper.abstract or "",
                authors=list(paper.authors or []),
                categories=list(paper.categories or []),
                primary_category=paper.primary_category,
                published=paper.published,
                title_html=marker.title(paper.title),
                abstract_html=marker.abstract(paper.abstract),
            )
        )
    return out


def _parsed(text: str, category, after, before) -> query.ParsedQuery:
    return query.parse(text).with_filters(category, after, before)


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(0, min(int(limit), MAX_LIMIT)), max(0, int(offset))


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: expected one of {', '.join(MODES)}")


def search(
    db: Engine | Connection | Session | None,
    text: str,
    mode: str = "hybrid",
    limit: int = 10,
    offset: int = 0,
    category: str | list[str] | None = None,
    after: date | None = None,
    before: date | None = None,
    *,
    encoder=None,
    index_dir: Path | str | None = None,
) -> SearchPage:
    """One page of papers for what the user typed; see `paperfeed.search`."""
    _check_mode(mode)
    limit, offset = _page(limit, offset)
    q = _parsed(text, category, after, before)
    gen = store.current(index_dir)
    total, keys, scores = ranked_keys(gen, q, mode, limit, offset, encoder)
    return SearchPage(text, mode, total, offset, limit, _hits(db, gen, q, keys, scores))


def ids(
    text: str,
    mode: str = "hybrid",
    limit: int = 10,
    offset: int = 0,
    category: str | list[str] | None = None,
    after: date | None = None,
    before: date | None = None,
    *,
    encoder=None,
    index_dir: Path | str | None = None,
) -> list[str]:
    """arXiv ids of one page of matches, best first: `search` without reading and
    highlighting the papers (a tenth of the time, for callers that read papers in bulk)."""
    _check_mode(mode)
    limit, offset = _page(limit, offset)
    gen = store.current(index_dir)
    _, keys, _ = ranked_keys(gen, _parsed(text, category, after, before), mode, limit, offset, encoder)
    found = gen.arxiv_ids(keys.tolist())
    return [found[k] for k in keys.tolist() if k in found]


def similar(
    db: Engine | Connection | Session | None,
    arxiv_id: str,
    limit: int = 10,
    *,
    keyword_weight: float = 0.0,
    index_dir: Path | str | None = None,
) -> list[Hit]:
    """Papers most like `arxiv_id` by embedding, never itself; [] if it is not indexed."""
    gen = store.current(index_dir)
    title = None
    if keyword_weight > 0:
        paper = _papers(db, [arxiv_id]).get(arxiv_id)
        title = paper.title if paper else None
    keys, scores = neighbours.neighbours(gen, arxiv_id, max(0, min(limit, MAX_LIMIT)), title, keyword_weight)
    return _hits(db, gen, query.ParsedQuery(), keys, scores)
