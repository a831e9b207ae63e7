"""
A window of candidate papers, built once and scored for any number of readers.

"For you" ranks only the papers first announced in a window (a day ~3,000 on
all of arXiv, a week ~20,000, a month ~80,000).  Everything per paper that
ranking reads is gathered here once per request or digest run: the unit
embedding rows as one contiguous float32 matrix, the tf-idf rows, folded author
keys with an inverted index, categories and upvotes.  Readers (`Profile`) are
then scored against it without touching the database or the search index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from paperfeed.categories import prefixes
from paperfeed.recommend.follows import author_key
from paperfeed.recommend.int8 import Int8Rows
from paperfeed.recommend.terms import TermSpace

UNIT = 1e-5  # rows whose length is this close to 1 (or 0) are unit already


def unit_rows(vectors, dim: int | None = None) -> np.ndarray:
    """float32 C-contiguous `vectors` with every non-zero row scaled to length 1: `vectors` itself
    when it is that already (rows read from the index, `source`), else a copy.  Callers only read it."""
    m = np.asarray(vectors, dtype=np.float32)
    if m.ndim < 2:
        m = m.reshape(1, -1) if m.size else m.reshape(0, 0)
    if m.size == 0:
        return np.zeros((0, dim or (m.shape[1] if m.ndim == 2 else 0)), np.float32)
    from paperfeed.search.vectors import lengths, to_unit

    norms = lengths(m)
    if m.flags.c_contiguous and np.all((np.abs(norms - 1.0) <= UNIT) | (norms == 0)):
        return m
    return to_unit(np.array(m, order="C"), norms)


@dataclass
class Window:
    """The candidates of one window; build with `Window.build`."""

    ids: list[str]
    vectors: np.ndarray  # (n, dim) unit rows
    terms: object | None  # CSR (n, V) unit tf-idf rows, or None: no keyword features
    space: TermSpace | None
    categories: list[list[str]]
    authors: list[list[str]]
    upvotes: np.ndarray  # (n,) int
    row_of: dict[str, int] = field(repr=False)
    by_author: dict[str, np.ndarray] = field(repr=False)  # author key -> rows
    by_category: dict[str, np.ndarray] = field(repr=False)  # lower-case category and archive prefixes ("cs.cl", "cs", "hep") -> rows
    author_keys: list[list[str]] = field(repr=False)
    key_terms: list[list[str]] = field(default_factory=list, repr=False)  # stored key terms per row, or []

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        vectors,
        *,
        categories: Sequence[Sequence[str]] | None = None,
        authors: Sequence[Sequence[str]] | None = None,
        upvotes: Sequence[int] | None = None,
        texts: Sequence[str] | None = None,
        terms=None,
        space: TermSpace | None = None,
        key_terms: Sequence[Sequence[str] | None] | None = None,
    ) -> Window:
        """Gather a window's papers.

        `vectors` are their embeddings (normalised here); `texts` (title +
        abstract, see `terms.paper_text`) are turned into tf-idf rows with
        `space`, or pass ready `terms` rows of that space.  Without either the
        models use embeddings only.  `key_terms` are the papers' stored key
        terms (`papers.key_terms`), which why-lines name first among the terms
        a paper shares with the library.
        """
        ids = [str(i) for i in ids]
        n = len(ids)
        vecs = unit_rows(vectors)
        if len(vecs) != n:
            raise ValueError(f"{n} ids but {len(vecs)} vectors")
        if terms is None and texts is not None and space is not None:
            if len(texts) != n:
                raise ValueError(f"{n} ids but {len(texts)} texts")
            terms = space.rows(list(texts))
        if terms is not None and terms.shape[0] != n:
            raise ValueError(f"{n} ids but {terms.shape[0]} term rows")
        cats = [list(c or []) for c in (categories or [[]] * n)]
        names = [list(a or []) for a in (authors or [[]] * n)]
        if len(cats) != n or len(names) != n:
            raise ValueError("categories and authors need one entry per paper")
        keys = [[author_key(a) for a in row] for row in names]
        index: dict[str, list[int]] = defaultdict(list)
        for row, paper_keys in enumerate(keys):
            for key in set(paper_keys):
                index[key].append(row)
        by_category: dict[str, set[int]] = defaultdict(set)
        for row, paper_cats in enumerate(cats):
            for cat in paper_cats:
                for key in prefixes(cat):  # `paperfeed.categories`: cs.cl, cs; hep-th, hep
                    by_category[key].add(row)
        kts = [list(k or []) for k in (key_terms or [[]] * n)]
        if len(kts) != n:
            raise ValueError(f"{n} ids but {len(kts)} key-term lists")
        votes = np.zeros(n, np.int64) if upvotes is None else np.asarray(upvotes, np.int64).reshape(-1)
        if len(votes) != n:
            raise ValueError(f"{n} ids but {len(votes)} upvote counts")
        return cls(
            ids=ids, vectors=vecs, terms=terms, space=space if terms is not None else None,
            categories=cats, authors=names, upvotes=votes,
            row_of={pid: row for row, pid in enumerate(ids)},
            by_author={k: np.asarray(v, np.int64) for k, v in index.items()},
            by_category={k: np.asarray(sorted(v), np.int64) for k, v in by_category.items()},
            author_keys=keys, key_terms=kts,
        )

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def int8(self) -> Int8Rows:
        """The unit rows quantised to int8 for shortlisting (`fit.prescores`), made on first use."""
        return Int8Rows(self.vectors)

    def rows_of(self, ids) -> np.ndarray:
        """Rows of those ids that are in the window."""
        return np.asarray([self.row_of[i] for i in ids if i in self.row_of], np.int64)

    def rows_by_authors(self, keys: frozenset[str]) -> np.ndarray:
        """Rows of papers with at least one of these author keys."""
        found = [self.by_author[k] for k in keys if k in self.by_author]
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)

    def rows_in_categories(self, followed: frozenset[str]) -> np.ndarray:
        """Rows of papers in a followed category or archive."""
        found = [self.by_category[c] for c in followed if c in self.by_category]
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
