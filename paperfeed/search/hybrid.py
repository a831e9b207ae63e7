"""
Fusion of the keyword and vector rankings into one.

Two methods, both over the top `depth` candidates of each list:

- reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
  score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1, k = 60 in the paper;
- convex combination of normalised scores (Bruch, Gai & Ingber, "An Analysis
  of Fusion Functions for Hybrid Retrieval", TOIS 2023):
  score(d) = a * kw(d) + (1 - a) * vec(d), each list's scores min-max scaled to
  [0, 1] over its candidates, a document missing from a list scoring 0 there.

`DEFAULT` holds the parameters tuned on BEIR SciFact *train* queries only
(`benchmarks/beir_eval.py --tune`); the test split is reported, never tuned on.
"""

from __future__ import annotations

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
# Tuned on SciFact train over 468 settings (benchmarks/RESULTS.md): with
# the default encoder (onnx-int8/192) this is the best (nDCG@10 0.7322; RRF k=60:
# 0.7073) and with onnx-int8/256 within 0.004 of the best; on test it scores
# 0.727 against 0.712 for RRF k=60.  Convex fusion beat every RRF (k, weight,
# depth) tried, as Bruch et al. found on other BEIR sets.
DEFAULT = Fusion("convex", 60.0, 0.6, 1.0, 200)


def rrf(
    rankings: list[np.ndarray], weights: list[float], k: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """Keys and fused scores, best first; each ranking is an array of keys, best first."""
    scores: dict[int, float] = {}
    for keys, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(keys.tolist(), start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return _sorted(scores)


def _minmax(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0:
        return scores.astype(np.float64)
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-12:
        return np.ones(len(scores))
    return (scores.astype(np.float64) - low) / (high - low)


def convex(
    keyword: tuple[np.ndarray, np.ndarray], vector: tuple[np.ndarray, np.ndarray], alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Keys and `alpha * keyword + (1 - alpha) * vector` of min-max scaled scores, best first."""
    scores: dict[int, float] = {}
    for (keys, raw), weight in ((keyword, alpha), (vector, 1.0 - alpha)):
        for key, value in zip(keys.tolist(), _minmax(raw).tolist(), strict=True):
            scores[key] = scores.get(key, 0.0) + weight * value
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
) -> tuple[np.ndarray, np.ndarray]:
    """One ranking from the (keys, scores) of each retriever, cut to `params.depth` each."""
    kw = (keyword[0][: params.depth], keyword[1][: params.depth])
    vec = (vector[0][: params.depth], vector[1][: params.depth])
    if len(kw[0]) == 0:
        return vec[0], vec[1].astype(np.float32)
    if len(vec[0]) == 0:
        return kw[0], kw[1].astype(np.float32)
    if params.method == "convex":
        return convex(kw, vec, params.keyword_weight)
    return rrf([kw[0], vec[0]], [params.keyword_weight, params.vector_weight], params.k)
