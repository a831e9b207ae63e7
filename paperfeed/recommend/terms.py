"""
Keyword features: tf-idf rows of paper text, and the terms two papers share.

One `TermSpace` (a fitted vocabulary and idf) serves a whole corpus: it is
fitted once on a sample of papers (the benchmark fits it on the corpus it
ranks) and then turns any paper's title and abstract into an L2-normalised
sparse row.  The dot product of two rows is their tf-idf cosine, and the
product of their weights for one term is that term's share of it, so the terms
a why-line names are exactly the ones that added to the score.

`TermSpace`, arxiv-sanity-lite's options (`ASL_OPTIONS`) and `FOR_YOU` live in
`paperfeed.search.term_space` (the indexer fits and stores the corpus's space
there) and are re-exported here.  scikit-learn is imported on first use only.
"""

from __future__ import annotations

import numpy as np

from paperfeed.search.term_space import ASL_OPTIONS, FOR_YOU, TermSpace, paper_text, vectorizer

__all__ = ["ASL_OPTIONS", "FOR_YOU", "TermSpace", "cosines", "paper_text", "row", "shared_terms",
           "shared_terms_weighted", "vectorizer"]


def cosines(a, b) -> np.ndarray:
    """Dense (len(a), len(b)) tf-idf cosines of unit sparse rows `a` with unit sparse rows `b`.

    `a @ b.T` with `b` as scipy's CSC view: converting the few candidate rows on
    the left costs less than keeping a transposed copy of every profile.
    """
    return np.asarray((a @ b.T).toarray(), np.float32)


def row(matrix, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, weights) of row i of a CSR matrix, without scipy's slow row indexing."""
    start, stop = matrix.indptr[i], matrix.indptr[i + 1]
    return matrix.indices[start:stop], matrix.data[start:stop]


def shared_terms(space: TermSpace, a, b, limit: int = 5) -> list[str]:
    """The terms adding most to the cosine of two 1 x V sparse rows, best first."""
    a, b = a.tocsr(), b.tocsr()
    return shared_terms_weighted(space, row(a, 0), [row(b, 0)], [1.0], limit)


def key_term_forms(space: TermSpace, phrases) -> frozenset[str]:
    """The terms of `space` that stand for stored key terms (`papers.key_terms`): the union of
    `TermSpace.key_forms` ("mixture of experts" gives "mixture experts")."""
    out: set[str] = set()
    for phrase in phrases or ():
        out |= space.key_forms(str(phrase))
    return frozenset(out)


def shared_terms_weighted(space: TermSpace, paper: tuple, others: list[tuple], weights, limit: int = 5,
                          prefer: frozenset[str] = frozenset()) -> list[str]:
    """The terms adding most to `sum(weight * cosine(paper, other))`, best first.

    `paper` and each of `others` are (columns, weights) rows (`row`).  A shared
    bigram hides the unigrams inside it ("selective scan" over "scan"): the
    line a reader sees should not say the same thing twice.  Terms in `prefer`
    (the papers' key terms, `key_term_forms`) come first, each still one that
    added to the score; the rest follow by weight.  Ties keep the order in which
    the terms first appear (others in order, columns ascending).
    """
    cols, vals = paper
    if not len(cols) or not others:
        return []
    by_col = np.argsort(cols, kind="stable")
    cols, vals = cols[by_col], vals[by_col]
    found, products = [], []
    for (ocols, ovals), w in zip(others, weights, strict=True):
        o = np.argsort(ocols, kind="stable")
        ocols, ovals = ocols[o], ovals[o]
        at = np.minimum(np.searchsorted(cols, ocols), len(cols) - 1)
        hit = cols[at] == ocols
        found.append(at[hit])
        products.append(vals[at[hit]] * ovals[hit] * w)
    at, products = np.concatenate(found), np.concatenate(products)
    if not len(at):
        return []
    total = np.bincount(at, weights=products.astype(np.float64), minlength=len(cols))
    shared, first = np.unique(at, return_index=True)
    shared = shared[np.argsort(first, kind="stable")]  # order of first appearance
    shared = shared[np.argsort(-total[shared], kind="stable")]
    names = [str(t) for t in space.terms[cols[shared]]]
    in_bigram = {w for t in names if " " in t for w in t.split()}
    names = [t for t in names if t not in in_bigram]
    if prefer:
        names = [t for t in names if t in prefer] + [t for t in names if t not in prefer]
    return names[:limit]
