"""
Similar papers: the nearest neighbours of a paper's stored embedding.

The paper's own vector is read back from the vector index (no re-encoding),
its neighbours are fetched and the paper itself is dropped.  Optionally the
ranking is fused with a keyword "more like this" ranking over the paper's
title, which favours neighbours sharing its rare words.  Results are cached per
process; the cache key includes the index generation, so a new `paperfeed
index` run invalidates every entry without any bookkeeping.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from paperfeed.search import hybrid, keyword, vectors
from paperfeed.search.query import ParsedQuery
from paperfeed.search.store import Generation

CACHE_SIZE = 4_096
_cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_cache_lock = threading.Lock()


def neighbours(
    gen: Generation,
    arxiv_id: str,
    limit: int,
    title: str | None = None,
    keyword_weight: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Keys and scores of the `limit` papers most like `arxiv_id`, never the paper itself.

    Empty when the paper is not in the index.  With `keyword_weight` > 0 and a
    `title`, fuses with BM25 over the title's words by RRF (Cormack et al. 2009).
    """
    cache_key = (gen.id, arxiv_id, limit, round(keyword_weight, 3), title if keyword_weight else None)
    with _cache_lock:
        if cache_key in _cache:
            _cache.move_to_end(cache_key)
            return _cache[cache_key]
    result = _compute(gen, arxiv_id, limit, title, keyword_weight)
    with _cache_lock:
        _cache[cache_key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _compute(
    gen: Generation, arxiv_id: str, limit: int, title: str | None, keyword_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    empty = (np.empty(0, np.uint64), np.empty(0, np.float32))
    key = gen.key_of(arxiv_id)
    if key is None or limit <= 0:
        return empty
    matrix = gen.matrix
    if matrix is not None and matrix.has(key):
        vec = matrix.get(np.array([key]))[0]
    elif (vec := vectors.vector_of(gen.vectors, key)) is None:
        return empty
    vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
    depth = max(limit + 1, 50 if keyword_weight else 0)
    keys, sims = vectors.search(gen.vectors, vec, depth + 1, matrix=matrix)
    mine = keys != key  # duplicates of the paper (same text, other id) stay: they are similar
    keys, sims = keys[mine], sims[mine]
    if keyword_weight > 0 and title:
        hits = keyword.search(gen.keyword, ParsedQuery(terms=tuple(title.split())), depth + 1)
        kw_mine = hits.keys != key
        keys, sims = hybrid.rrf(
            [hits.keys[kw_mine], keys], [keyword_weight, 1.0 - keyword_weight], 60.0
        )
    return keys[:limit], sims[:limit]
