"""
Keyword features: tf-idf rows of paper text, and the terms two papers share.

One `TermSpace` (a fitted vocabulary and idf) serves a whole corpus: it is
fitted once on a sample of papers (the benchmark fits it on the corpus it
ranks) and then turns any paper's title and abstract into an L2-normalised
sparse row.  The dot product of two rows is their tf-idf cosine, and the
product of their weights for one term is that term's share of it, so the terms
a why-line names are exactly the ones that added to the score.

`asl_space` builds arxiv-sanity-lite's vectorizer exactly as its `compute.py`
does (uni- and bi-grams, at most 10,000 features, sublinear tf, max_df 0.5,
min_df 5, English stop words); `TermSpace.fit` defaults to it.
scikit-learn is imported on first use only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# arxiv-sanity-lite compute.py (karpathy/arxiv-sanity-lite, 2021-): its argparse
# defaults and TfidfVectorizer call, option for option
ASL_OPTIONS: dict[str, Any] = dict(
    input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
    lowercase=True, analyzer="word", stop_words="english",
    token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
    ngram_range=(1, 2), max_features=10_000,
    norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
    max_df=0.5, min_df=5,
)
# The term space "For you" uses: the same vectorizer keeping every term seen in
# two papers (5-fold CV on SciFact chose it over arxiv-sanity-lite's 10,000
# features; benchmarks/recommend_eval.py, RESULTS.md).  Pass to `TermSpace.fit`.
FOR_YOU: dict[str, Any] = {"min_df": 2, "max_features": None}


def vectorizer(**overrides: Any):
    """A scikit-learn `TfidfVectorizer` with arxiv-sanity-lite's options, some replaced."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    options = {**ASL_OPTIONS, **overrides}
    if isinstance(options["min_df"], int) and options["min_df"] < 1:
        options["min_df"] = 1
    return TfidfVectorizer(dtype=np.float32, **options)


@dataclass
class TermSpace:
    """A fitted tf-idf vocabulary: `rows(texts)` gives unit sparse rows, `terms` names columns."""

    vectorizer: Any
    terms: np.ndarray  # column -> term text

    @classmethod
    def fit(cls, texts: list[str], **overrides: Any) -> TermSpace:
        """Fit on `texts` (a corpus sample; a tiny one lowers min_df to fit)."""
        if not texts:
            raise ValueError("a term space needs at least one text to fit on")
        v = vectorizer(**overrides)
        try:
            v.fit(texts)
        except ValueError:  # too few texts for min_df / max_df: keep every term instead
            v = vectorizer(**{**overrides, "min_df": 1, "max_df": 1.0})
            v.fit(texts)
        return cls(v, np.asarray(v.get_feature_names_out(), dtype=object))

    def rows(self, texts: list[str]):
        """CSR matrix (len(texts), terms), float32, rows L2-normalised (all-zero for no known term)."""
        return self.vectorizer.transform(texts).astype(np.float32).tocsr()


def paper_text(title: str | None, abstract: str | None, authors: list[str] | None = None) -> str:
    """The text a paper's term row is made from: title, abstract and (as arxiv-sanity-lite) authors."""
    return " ".join(p for p in (title or "", abstract or "", " ".join(authors or [])) if p)


def cosines(a, b_transposed) -> np.ndarray:
    """Dense (len(a), n) tf-idf cosines of unit sparse rows `a` with n rows given transposed (V x n).

    Profiles keep their rows transposed once (`Profile.terms_t`): scipy would
    otherwise convert them on every product.
    """
    return np.asarray((a @ b_transposed).toarray(), np.float32)


def row(matrix, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, weights) of row i of a CSR matrix, without scipy's slow row indexing."""
    start, stop = matrix.indptr[i], matrix.indptr[i + 1]
    return matrix.indices[start:stop], matrix.data[start:stop]


def shared_terms(space: TermSpace, a, b, limit: int = 5) -> list[str]:
    """The terms adding most to the cosine of two 1 x V sparse rows, best first."""
    a, b = a.tocsr(), b.tocsr()
    return shared_terms_weighted(space, row(a, 0), [row(b, 0)], [1.0], limit)


def key_term_forms(phrases) -> frozenset[str]:
    """The tf-idf terms that stand for stored key terms (`papers.key_terms`): each phrase
    case-folded, and the word pairs inside a longer one ("selective state space" gives
    "selective state" and "state space"), as the term space's uni- and bi-grams spell them."""
    out = set()
    for phrase in phrases or ():
        words = [w for w in str(phrase).casefold().replace("-", " ").split() if w]
        if words:
            out.add(" ".join(words))
            out.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
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
