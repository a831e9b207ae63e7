"""
"For you": rank a window of new papers for a reader, and say why.

    from paperfeed import recommend

    space = recommend.TermSpace.fit(sample_texts)                 # once per corpus (tf-idf vocabulary)
    window = recommend.Window.build(ids, vectors, categories=cats, authors=authors,
                                    upvotes=votes, texts=texts, space=space)   # once per window
    profile = recommend.Profile.build(saved_ids, saved_vectors, saved_terms=space.rows(saved_texts),
                                      saved_titles=titles, dismissed_ids=..., dismissed_vectors=...,
                                      authors=followed_names_or_keys, categories=["cs.CL", "stat"])
    recs = recommend.rank(window, profile, limit=20, hidden_gems=False)
    [(r.arxiv_id, r.score, r.why()) for r in recs]
    for recs in recommend.rank_many(window, profiles, model=recommend.DIGEST, limit=10):
        ...                          # many readers (the digest): the same pages, batched

A `Window` is built once per request or digest run and scored for any number of
readers; a `Profile` is derived from one reader's library and may be cached
until it changes.  The inputs are plain arrays: the embeddings are those the
search index already holds (`paperfeed.search`), nothing is re-encoded.

Modules: `spans` (window lengths, no numpy), `window` (candidates), `profile` (reader), `fit` (the default model:
pair similarity of embeddings and tf-idf, max over saved papers, follow
bonuses, dismissals), `int8` (the shortlist's int8 products), `ranking` (pages, hidden gems, why-lines), `terms` (tf-idf,
shared terms), `follows` (author keys, categories), `baselines` (the other
models measured in benchmarks/recommend_eval.py, arxiv-sanity-lite's included).
numpy and scikit-learn load on first use: importing this package is free.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperfeed.recommend.fit import DEFAULT, DIGEST, Fit, Model, score
    from paperfeed.recommend.follows import author_key
    from paperfeed.recommend.profile import Profile
    from paperfeed.recommend.ranking import GEM_UPVOTES, Neighbour, Recommendation, rank, rank_many
    from paperfeed.recommend.terms import TermSpace, paper_text
    from paperfeed.recommend.window import Window

_WHERE = {
    "DEFAULT": "fit", "DIGEST": "fit", "Fit": "fit", "Model": "fit", "score": "fit",
    "author_key": "follows",
    "Profile": "profile",
    "GEM_UPVOTES": "ranking", "Neighbour": "ranking", "Recommendation": "ranking", "rank": "ranking",
    "rank_many": "ranking",
    "TermSpace": "terms", "paper_text": "terms",
    "Window": "window",
}
__all__ = ["DEFAULT", "DIGEST", "GEM_UPVOTES", "Fit", "Model", "Neighbour", "Profile", "Recommendation", "TermSpace",
           "Window", "author_key", "paper_text", "rank", "rank_many", "score"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'paperfeed.recommend' has no attribute {name!r}")
    return getattr(importlib.import_module(f"paperfeed.recommend.{_WHERE[name]}"), name)
