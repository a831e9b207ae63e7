"""
How well each paper of a window fits a reader, and which saved papers make it fit.

The default model (chosen by cross-validation on BEIR SciFact, see
benchmarks/recommend_eval.py and benchmarks/RESULTS.md) scores a candidate c
against every saved paper s with one pair similarity

    sim(c, s) = (1 - w) * cos(emb c, emb s) + w * cos(tfidf c, tfidf s)

and takes the mean of its `top_k` largest values: `top_k=1` is max-similarity
to the nearest saved paper, `top_k=None` the mean over all of them (the
centroid of the pair similarities).  The score is a sum of per-saved-paper
terms, `sim(c, s) / k` over the k nearest, and those terms are the
contributions the why-lines name: the explanation is the computation.
"Not interested" papers subtract `dismissed_weight` times the candidate's
largest similarity to one of them; following an author or a category adds a
fixed bonus.

A window is first narrowed to `shortlist` candidates by embedding similarity
to the profile's prototypes (`Profile.prototypes`; exact when the library has
at most 32 papers) plus the follow bonuses, so the full pair similarities are
computed for a few hundred papers per reader whatever the window's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paperfeed.recommend.int8 import best_products
from paperfeed.recommend.profile import Profile
from paperfeed.recommend.terms import cosines
from paperfeed.recommend.window import Window


@dataclass(frozen=True)
class Model:
    # chosen by 5-fold CV on SciFact (benchmarks/recommend_eval.py, For-you vectors onnx/128): every
    # fold of both tables chose term space terms.FOR_YOU and w = 0.5; top 1 for one-paper libraries
    # (which top 2 is), top 2 for larger ones
    term_weight: float = 0.5  # w: the tf-idf cosine's share of the pair similarity
    top_k: int | None = 2  # saved papers averaged per candidate; None: all (centroid)
    dismissed_weight: float = 0.5
    author_bonus: float = 0.15  # ~ the gap between a close and a loose neighbour
    category_bonus: float = 0.05
    shortlist: int = 500


DEFAULT = Model()
FEW_PASSES = 8  # top_k up to which `top_contributions` finds them by argmax passes
# The digest shows ~10 papers a reader: a shorter shortlist keeps 20,000 readers
# within its time budget (benchmarks/recommend_scale.py --digest).
DIGEST = Model(shortlist=100)


@dataclass
class Fit:
    """Scores of the shortlisted rows of a window for one reader, best first.

    `saved[i]` lists indices into `profile.saved_ids` of the saved papers that
    contribute to row i's score and `contribution[i]` their terms (same order,
    largest first); `sim`/`emb`/`text` are their pair similarity and its parts.
    """

    rows: np.ndarray
    score: np.ndarray
    fit: np.ndarray  # the library part: sum of contributions
    saved: np.ndarray  # (r, k) int, -1 padding
    contribution: np.ndarray  # (r, k)
    sim: np.ndarray  # (r, k) pair similarity
    dismissed_penalty: np.ndarray
    author_match: np.ndarray  # bool
    category_match: np.ndarray  # bool
    uses_terms: bool


def eligible(window: Window, profile: Profile) -> np.ndarray:
    """Bool mask of rows that may be recommended: not saved, not dismissed."""
    ok = np.ones(len(window), bool)
    ok[window.rows_of(profile.saved_ids)] = False
    ok[window.rows_of(profile.dismissed_ids)] = False
    return ok


def follow_bonus(window: Window, profile: Profile, model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bonus, by a followed author, in a followed category) for every row."""
    author = np.zeros(len(window), bool)
    author[window.rows_by_authors(profile.authors)] = True
    category = np.zeros(len(window), bool)
    category[window.rows_in_categories(profile.categories)] = True
    return author * model.author_bonus + category * model.category_bonus, author, category


def shortlist_queries(profile: Profile, model: Model) -> np.ndarray:
    """The rows a window is compared with to shortlist for this reader (embedding only).

    The saved papers' mean when the model averages all of them (exact: the
    mean is linear), else the profile's prototypes, whose best cosine is the
    prescore; no rows for an empty library.
    """
    if not profile.saved_ids:
        return profile.vectors  # no rows
    if model.top_k is None or model.top_k >= len(profile.saved_ids):
        return profile.vectors.mean(axis=0, keepdims=True)
    return profile.prototypes


def prescores(window: Window, profiles: list[Profile], model: Model) -> np.ndarray:
    """(len(window), len(profiles)) embedding-only fit of every row for each reader, from one matrix
    product per number of queries a reader has (at most `MAX_PROTOTYPES`).

    The products are int8 (`int8.best_products`, within ~0.003 of the float32 cosines): they only
    pick the shortlist, which `score` then scores in float32.  `prescore` is this for one reader,
    and integer sums are exact, so a reader scored alone or in a batch (`ranking.rank_many`) gets
    the same shortlist.  Readers with k queries are stacked, so the best of each reader's k
    cosines is a max over a contiguous axis of a (readers, k, rows) array.
    """
    queries = [shortlist_queries(p, model) for p in profiles]
    out = np.zeros((len(profiles), len(window)), np.float32)
    if not len(window):
        return out.T
    by_size: dict[int, list[int]] = {}
    for j, q in enumerate(queries):
        if len(q):
            by_size.setdefault(len(q), []).append(j)
    for readers in by_size.values():
        out[readers] = best_products([queries[j] for j in readers], window.int8)
    return out.T  # a view: each reader's column is contiguous


def prescore(window: Window, profile: Profile, model: Model) -> np.ndarray:
    """Embedding-only fit of every row, used to pick the shortlist."""
    return prescores(window, [profile], model)[:, 0]


def shortlist(window: Window, profile: Profile, model: Model,
              pre: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, bonus, author, category) of the `model.shortlist` best eligible rows by prescore + bonus.

    `pre` is this reader's column of `prescores` when a batch computed it.
    """
    bonus, author, category = follow_bonus(window, profile, model)
    pre = (prescore(window, profile, model) if pre is None else pre) + bonus
    ok = np.flatnonzero(eligible(window, profile))
    if len(ok) > model.shortlist:
        ok = ok[np.argpartition(-pre[ok], model.shortlist - 1)[: model.shortlist]]
    return ok, bonus[ok], author[ok], category[ok]


def pair_similarity(window: Window, rows: np.ndarray, profile: Profile,
                    model: Model) -> tuple[np.ndarray, np.ndarray, bool]:
    """(len(rows), n) pair similarities with the saved papers, (len(rows), m) with the dismissed ones,
    and whether the saved papers' include terms (one sparse product gives both)."""
    vecs = window.vectors[rows]
    n, m = len(profile.saved_ids), len(profile.dismissed_vectors)
    sim = vecs @ profile.vectors.T if n else np.zeros((len(rows), 0), np.float32)
    dsim = vecs @ profile.dismissed_vectors.T if m else np.zeros((len(rows), 0), np.float32)
    w = model.term_weight
    if w <= 0 or window.terms is None or profile.terms_all is None or not len(rows):
        return sim, dsim, False
    terms = cosines(window.terms[rows], profile.terms_all)
    saved_terms = profile.terms is not None
    if saved_terms:
        sim = (1.0 - w) * sim + w * terms[:, :n]
    if profile.dismissed_terms is not None:
        dsim = (1.0 - w) * dsim + w * terms[:, n if saved_terms else 0:]
    return sim, dsim, saved_terms and n > 0


def top_contributions(sim: np.ndarray, top_k: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(saved index, contribution, pair similarity) of the top_k largest pair similarities per row,
    largest first (ties: the lower saved index first); contributions are sim / k and add up to the
    row's fit.

    A few (`FEW_PASSES`) are found by that many row-wise argmax passes, each masking what it
    found with -inf (similarities are finite: cosines): for the default top 2 of 100 x 260
    similarities 45 µs, where a partition of every row and a sort of its head took 730 µs
    (benchmarks/RESULTS.md).  More are read off a stable sort."""
    n = sim.shape[1]
    k = n if top_k is None else max(1, min(top_k, n))
    if k < n and k <= FEW_PASSES:
        work, rows = sim.copy(), np.arange(len(sim))
        idx = np.empty((len(sim), k), np.int64)
        for j in range(k):
            idx[:, j] = np.argmax(work, axis=1)  # the first of equal values: the lower index
            work[rows, idx[:, j]] = -np.inf
        part = np.take_along_axis(sim, idx, axis=1)
        return idx, part / k, part
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    part = np.take_along_axis(sim, idx, axis=1)
    return idx, part / k, part


def score(window: Window, profile: Profile, model: Model = DEFAULT, pre: np.ndarray | None = None) -> Fit:
    """The shortlisted rows of `window` scored for `profile`, best first (ties: more upvotes first).

    `pre`: this reader's column of `prescores(window, profiles, model)`, when scored in a batch.
    """
    rows, bonus, author, category = shortlist(window, profile, model, pre)
    sim, dsim, uses_terms = pair_similarity(window, rows, profile, model)
    if profile.saved_ids and len(rows):
        saved, contribution, pair = top_contributions(sim, model.top_k)
        fit = contribution.sum(axis=1)
    else:
        saved = np.full((len(rows), 0), -1, np.int64)
        contribution = pair = np.zeros((len(rows), 0), np.float32)
        fit = np.zeros(len(rows), np.float32)
    penalty = np.zeros(len(rows), np.float32)
    if dsim.shape[1] and len(rows) and model.dismissed_weight:
        penalty = model.dismissed_weight * np.maximum(dsim.max(axis=1), 0.0)
    total = fit - penalty + bonus
    order = np.lexsort((-window.upvotes[rows], -total))
    return Fit(rows[order], total[order], fit[order], saved[order], contribution[order], pair[order],
               penalty[order], author[order], category[order], uses_terms)
