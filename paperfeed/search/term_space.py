"""
A tf-idf term space: a fitted vocabulary and idf that turn paper texts into rows.

One `TermSpace` serves a whole corpus: `paperfeed index` fits it once per index
generation that has none (on the newest papers, `term_rows.SAMPLE`) and stores
every indexed paper's row with the index (`term_rows`), so "For you" reads
rows instead of re-tokenising a library on every request.  `rows(texts)` gives
L2-normalised sparse rows: the dot product of two rows is their tf-idf cosine.
`save`/`load` keep a space as its options, vocabulary and idf (no pickle); a
loaded space gives the very rows the fitted one gives.

`ASL_OPTIONS` is arxiv-sanity-lite's vectorizer exactly as its `compute.py`
builds it (uni- and bi-grams, at most 10,000 features, sublinear tf, max_df
0.5, min_df 5, English stop words); `TermSpace.fit` defaults to it and
`FOR_YOU` is what "For you" uses.  It lives in `search` because the indexer
builds it; `paperfeed.recommend.terms` re-exports it.  scikit-learn is
imported on first use only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
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
SPACE_FILE, IDF_FILE = "space.json", "idf.npy"


def vectorizer(**overrides: Any):
    """A scikit-learn `TfidfVectorizer` with arxiv-sanity-lite's options, some replaced."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    options = {**ASL_OPTIONS, **overrides}
    if isinstance(options["min_df"], int) and options["min_df"] < 1:
        options["min_df"] = 1
    return TfidfVectorizer(dtype=np.float32, **options)


FORMS_KEPT = 200_000


@dataclass
class TermSpace:
    """A fitted tf-idf vocabulary: `rows(texts)` gives unit sparse rows, `terms` names columns."""

    vectorizer: Any
    terms: np.ndarray  # column -> term text
    options: dict[str, Any] = field(default_factory=dict)  # the overrides of ASL_OPTIONS it was fitted with
    # phrase -> `key_forms`: a digest names the same key terms for thousands of readers
    _forms: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def fit(cls, texts: list[str], **overrides: Any) -> TermSpace:
        """Fit on `texts` (a corpus sample; a tiny one lowers min_df to fit)."""
        if not texts:
            raise ValueError("a term space needs at least one text to fit on")
        v = vectorizer(**overrides)
        try:
            v.fit(texts)
        except ValueError:  # too few texts for min_df / max_df: keep every term instead
            overrides = {**overrides, "min_df": 1, "max_df": 1.0}
            v = vectorizer(**overrides)
            v.fit(texts)
        return cls(v, np.asarray(v.get_feature_names_out(), dtype=object), dict(overrides))

    @cached_property
    def analyser(self):
        """The vectorizer's own text -> terms function (stop words out, accents stripped, uni- and bi-grams)."""
        return self.vectorizer.build_analyzer()

    def key_forms(self, phrase: str) -> frozenset[str]:
        """The terms that stand for a stored key term, spelled by `analyser` (stop words out,
        accents stripped): a one-word phrase is its word, a longer one the word pairs inside it
        ("mixture of experts" gives "mixture experts").  Kept per phrase (at most `FORMS_KEPT`)."""
        found = self._forms.get(phrase)
        if found is None:
            grams = self.analyser(phrase)
            words = [g for g in grams if " " not in g]
            found = frozenset(words if len(words) == 1 else (g for g in grams if " " in g))
            if len(self._forms) < FORMS_KEPT:
                self._forms[phrase] = found
        return found

    def rows(self, texts: list[str]):
        """CSR matrix (len(texts), terms), float32, rows L2-normalised (all-zero for no known term)."""
        return self.vectorizer.transform(texts).astype(np.float32).tocsr()

    def save(self, folder: Path) -> None:
        """Write the space into `folder` (options and vocabulary as JSON, idf as .npy)."""
        folder.mkdir(parents=True, exist_ok=True)
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}
        np.save(folder / IDF_FILE, np.asarray(self.vectorizer.idf_, np.float64))
        tmp = folder / f".{SPACE_FILE}.tmp"
        tmp.write_text(json.dumps({"options": options, "terms": [str(t) for t in self.terms]}))
        os.replace(tmp, folder / SPACE_FILE)  # written last: its presence means the space is complete

    @classmethod
    def load(cls, folder: Path) -> TermSpace | None:
        """The space saved in `folder`, or None when there is none."""
        if not (folder / SPACE_FILE).exists():
            return None
        data = json.loads((folder / SPACE_FILE).read_text())
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in data["options"].items()}
        terms = data["terms"]
        v = vectorizer(**{**options, "vocabulary": {t: i for i, t in enumerate(terms)}})
        v.idf_ = np.load(folder / IDF_FILE)  # sets the fitted transformer (scikit-learn's public setter)
        return cls(v, np.asarray(terms, dtype=object), options)


def paper_text(title: str | None, abstract: str | None, authors: list[str] | None = None) -> str:
    """The text a paper's term row is made from: title, abstract and (as arxiv-sanity-lite) authors."""
    return " ".join(p for p in (title or "", abstract or "", " ".join(authors or [])) if p)
