"""
Fusion of the keyword and vector rankings into one.

Two methods, both over the top `depth` candidates of each list:

- reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
  score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1, k = 60 in the paper;
- convex combination of normalised scores (Bruch, Gai & Ingber, "An Analysis
  of Fusion Functions for Hybrid Retrieval", TOIS 2023):
  score(d) = a * kw(d) + (1 - a) * vec(d) over the union of both candidate lists.
  kw is BM25 over the list's best score (BM25 is never negative, so a document
  the keyword list lacks scores 0 there); vec is the cosine min-max scaled over
  every candidate, and keyword candidates the vector list lacks get their real
  cosine (`vector_score`) rather than a guess, so a paper that matches the words
  but sits just past the vector cut-off is not treated as unrelated.

`DEFAULT` holds the parameters tuned on BEIR SciFact *train* queries only
(`benchmarks/beir_eval.py --tune`); the test split is reported, never tuned on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fusion:
    method: str = "rrf"  # "rrf" or "convex"
    k: float = 60.0  # RRF constant
    keyword_weight: float = 1.0  # RRF weight, or the convex `a`
    vector_weight: float = 1.0  # RRF weight (unused by convex)
    depth: int = 100  # candidates taken from each list


# Cormack et al.'s parameters: the baseline every tuned setting is compared with.
RRF60 = Fusion("rrf", 60.0, 1.0, 1.0, 100)
# Tuned on SciFact train through the real index (benchmarks/RESULTS.md,
# `beir_eval.py --tune`): with the default encoder the best of 260 settings
# (train nDCG@10 0.7352; RRF k=60: 0.7085); on test 0.729 against 0.709 for RRF
# k=60.  Convex fusion beat every RRF (k, weight, depth) tried, as Bruch et al.
# found on other BEIR sets.
DEFAULT = Fusion("convex", 60.0, 0.55, 1.0, 200)


def rrf(
    rankings: list[np.ndarray], weights: list[float], k: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """Keys and fused scores, best first; each ranking is an array of keys, best first."""
    scores: dict[int, float] = {}
    for keys, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(keys.tolist(), start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return _sorted(scores)


def convex(
    keyword: tuple[np.ndarray, np.ndarray],
    vector: tuple[np.ndarray, np.ndarray],
    alpha: float,
    vector_score: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keys and `alpha * keyword + (1 - alpha) * vector` of normalised scores, best first.

    `vector_score(keys)` gives the cosine of keyword candidates missing from the
    vector list; without it they score the vector list's lowest.
    """
    kw_keys, vec_keys = keyword[0].tolist(), vector[0].tolist()
    kw_raw = keyword[1].astype(np.float64)
    top = float(kw_raw.max()) if len(kw_raw) else 0.0
    kw = dict(zip(kw_keys, (kw_raw / top if top > 0 else np.ones(len(kw_raw))).tolist(), strict=True))
    cosine = dict(zip(vec_keys, vector[1].astype(np.float64).tolist(), strict=True))
    missing = [k for k in kw_keys if k not in cosine]
    if missing:
        if vector_score is not None:
            found = vector_score(np.array(missing, np.uint64)).astype(np.float64).tolist()
        else:
            found = [min(cosine.values(), default=0.0)] * len(missing)
        cosine.update(zip(missing, found, strict=True))
    low, high = min(cosine.values()), max(cosine.values())
    span = high - low if high - low > 1e-12 else 1.0
    scores: dict[int, float] = {}
    for key in (*kw_keys, *vec_keys):  # keyword first: ties keep that order
        if key not in scores:
            scores[key] = alpha * kw.get(key, 0.0) + (1.0 - alpha) * (cosine[key] - low) / span
    return _sorted(scores)


def _sorted(scores: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    # ties keep first-seen order (keyword list first), so results are deterministic
    order = sorted(scores.items(), key=lambda kv: -kv[1])
    keys = np.array([k for k, _ in order], np.uint64)
    return keys, np.array([v for _, v in order], np.float32)


def fuse(
    keyword: tuple[np.ndarray, np.ndarray],
    vector: tuple[np.ndarray, np.ndarray],
    params: Fusion = DEFAULT,
    vector_score: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One ranking from the (keys, scores) of each retriever, cut to `params.depth` each.

    `vector_score(keys)`, the cosine of any keys with the query, lets convex
    fusion score keyword candidates that the vector list lacks.
    """
    kw = (keyword[0][: params.depth], keyword[1][: params.depth])
    vec = (vector[0][: params.depth], vector[1][: params.depth])
    if len(kw[0]) == 0:
        return vec[0], vec[1].astype(np.float32)
    if len(vec[0]) == 0:
        return kw[0], kw[1].astype(np.float32)
    if params.method == "convex":
        return convex(kw, vec, params.keyword_weight, vector_score)
    return rrf([kw[0], vec[0]], [params.keyword_weight, params.vector_weight], params.k)
