"""
A reader's profile: what "For you" knows about one reader, derived from the library.

Built from the saved papers' embeddings (and tf-idf rows, for keyword
features), the "not interested" papers, and the followed authors and
categories.  It is derived data: cheap to rebuild, safe to cache per reader
and to drop whenever the library changes.  `prototypes` stand in for a large
library when a window is first narrowed down (see `fit.shortlist`): up to
`MAX_PROTOTYPES` saved papers are their own prototypes; beyond that a few
k-means iterations (Lloyd 1982, seeded with saved papers drawn at random) summarise them.  Final
scores and why-lines always use every saved paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from paperfeed.recommend.follows import author_key, normalise_categories
from paperfeed.recommend.window import unit_rows

MAX_PROTOTYPES = 32
KMEANS_ROUNDS = 2  # benchmarks/digest_shortlist.py: 2 rounds keep 0.873 of the exact top 10, 3 rounds 0.875


@dataclass
class Profile:
    saved_ids: list[str]
    vectors: np.ndarray  # (n, dim) unit rows of the saved papers
    terms: object | None  # CSR (n, V) tf-idf rows in the window's TermSpace, or None
    titles: list[str]  # for why-lines ("" when unknown)
    dismissed_ids: frozenset[str]
    dismissed_vectors: np.ndarray  # (m, dim) unit rows, m may be 0
    dismissed_terms: object | None
    authors: frozenset[str]  # followed author keys
    categories: frozenset[str]  # followed categories and archives
    prototypes: np.ndarray  # (k, dim) unit rows, k <= MAX_PROTOTYPES
    # `terms` then `dismissed_terms` (those given) as one CSR matrix: one sparse product with a
    # window's rows gives both pair similarities
    terms_all: object | None = None
    key_terms: list[list[str]] | None = None  # stored key terms of each saved paper, or None

    @classmethod
    def build(
        cls,
        saved_ids: Sequence[str],
        saved_vectors,
        *,
        saved_terms=None,
        saved_titles: Sequence[str | None] | None = None,
        saved_key_terms: Sequence[Sequence[str] | None] | None = None,
        dismissed_ids: Sequence[str] = (),
        dismissed_vectors=None,
        dismissed_terms=None,
        authors: Sequence[str] = (),
        categories: Sequence[str] = (),
        seed: int = 0,
    ) -> Profile:
        """A profile from the library's papers (ids and embeddings, in one order).

        `authors` may be names or keys (both fold to the key); `dismissed_vectors`
        are the embeddings of those "not interested" papers that have one.
        """
        saved_ids = [str(i) for i in saved_ids]
        vecs = unit_rows(saved_vectors) if len(saved_ids) else np.zeros((0, 0), np.float32)
        if len(vecs) != len(saved_ids):
            raise ValueError(f"{len(saved_ids)} saved ids but {len(vecs)} vectors")
        if saved_terms is not None and saved_terms.shape[0] != len(saved_ids):
            raise ValueError(f"{len(saved_ids)} saved ids but {saved_terms.shape[0]} term rows")
        titles = [t or "" for t in (saved_titles or [""] * len(saved_ids))]
        kts = [list(k or []) for k in saved_key_terms] if saved_key_terms is not None else None
        if kts is not None and len(kts) != len(saved_ids):
            raise ValueError(f"{len(saved_ids)} saved ids but {len(kts)} key-term lists")
        dim = vecs.shape[1] if vecs.size else 0
        dvecs = unit_rows(dismissed_vectors, dim) if dismissed_vectors is not None else np.zeros((0, dim), np.float32)
        if dismissed_terms is not None and dismissed_terms.shape[0] != len(dvecs):
            raise ValueError(f"{len(dvecs)} dismissed vectors but {dismissed_terms.shape[0]} term rows")
        given = [t for t in (saved_terms, dismissed_terms) if t is not None]
        return cls(
            saved_ids=saved_ids, vectors=vecs, terms=saved_terms, titles=titles,
            dismissed_ids=frozenset(map(str, dismissed_ids)), dismissed_vectors=dvecs,
            dismissed_terms=dismissed_terms,
            authors=frozenset(k for k in (author_key(a) for a in authors) if k),
            categories=normalise_categories(categories),
            prototypes=prototypes(vecs, MAX_PROTOTYPES, seed),
            terms_all=(given[0] if len(given) == 1 else sparse.vstack(given, format="csr")) if given else None, key_terms=kts,
        )

    @property
    def empty(self) -> bool:
        """Nothing to rank by: no saved paper and no follow (the page onboards instead)."""
        return not self.saved_ids and not self.authors and not self.categories


def prototypes(vecs: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """At most `k` unit rows summarising `vecs`: the rows themselves, or spherical k-means centres.

    Seeded with `first_centres`, then `KMEANS_ROUNDS` Lloyd rounds, each summing the rows of a
    cluster with one product by the assignment matrix.
    """
    if len(vecs) <= k:
        return vecs.copy()
    n = len(vecs)
    c = vecs[first_centres(vecs, k, np.random.default_rng(seed))]
    members = np.zeros((k, n), np.float32)
    cols = np.arange(n)
    for _ in range(KMEANS_ROUNDS):
        assign = np.argmax(vecs @ c.T, axis=1)
        members[:] = 0.0
        members[assign, cols] = 1.0
        sums = members @ vecs
        filled = np.bincount(assign, minlength=k) > 0
        c[filled] = unit_rows(sums[filled])
    return np.ascontiguousarray(c)


def first_centres(vecs: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of `vecs` that seed k-means: `k` distinct ones drawn uniformly (Forgy).

    k-means++ seeding (a pass over the library for each of the 32 seeds, one after the other)
    took twice as long per profile and kept fewer of the exact top 10 afterwards (0.866 against
    0.873, `benchmarks/digest_shortlist.py --seeding kmeans++,uniform`).
    """
    return np.sort(rng.choice(len(vecs), k, replace=False))
