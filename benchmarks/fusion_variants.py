"""
Other ways to fuse keyword and vector search, measured on BEIR SciFact.

`beir_eval.py --tune` picks paperfeed's fusion (convex combination, a and depth
tuned on train).  This script asks whether a different method would do better
over the same candidates: it reads the index that `beir_eval.py --workdir DIR`
built (building it if DIR is empty), takes each query's real keyword hits and
vector candidates, and re-ranks their union with:

- ``convex``: paperfeed's fusion (BM25 / best BM25, cosine min-max over the union);
- ``zscore``: both scores standardised over their own candidate lists;
- ``raw-cosine``: BM25 / best BM25 beside the unscaled cosine (clipped at 0);
- ``rocchio``: dense pseudo-relevance feedback: the query vector plus
  beta x the mean vector of the k best fused papers, then fused again;
- ``propagate``: each candidate's fused score plus lambda x its mean cosine
  with the k best fused papers (score smoothing over the corpus graph);
- ``logistic``: a logistic regression on seven score and rank features,
  trained on the train qrels.

Each method's parameters are chosen on the train queries; test nDCG@10 is
reported once, with a bootstrap 95 % interval over the 300 test queries for
the default fusion.  Results: benchmarks/RESULTS.md.

    python benchmarks/fusion_variants.py --workdir /tmp/sf192
"""

from __future__ import annotations

import argparse
import functools
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import beir_eval  # noqa: E402

from paperfeed.search import hybrid, store, vectors  # noqa: E402

DEPTH = 200  # candidates from each list, as the default fusion
ALPHAS = [round(float(a), 2) for a in np.arange(0.3, 0.8, 0.05)]


@dataclass
class Candidates:
    """One query's candidates: both lists, and their union with what fusion methods use."""

    kw: tuple[np.ndarray, np.ndarray]  # keyword keys and BM25 scores, best first
    vec_keys: np.ndarray  # vector candidates, best first
    keys: np.ndarray  # the union, keyword candidates first
    cosine: np.ndarray  # exact cosine of every candidate in `keys`
    rows: np.ndarray  # their vectors
    qvec: np.ndarray

    @functools.cached_property
    def position(self) -> dict[int, int]:
        return {k: i for i, k in enumerate(self.keys.tolist())}

    def at(self, keys: np.ndarray) -> np.ndarray:
        return np.array([self.position[k] for k in keys.tolist()], np.int64)

    def aligned(self, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
        """`values` of `keys` placed on the union, 0 for the other candidates."""
        out = np.zeros(len(self.keys))
        out[self.at(keys)] = values
        return out


def gather(index_dir, queries: dict[str, str]) -> dict[str, Candidates | None]:
    gen, found = beir_eval.candidates(index_dir, queries, DEPTH)
    out = {}
    for qid, (kw, (vec_keys, _), qvec) in found.items():
        keys = np.array(list(dict.fromkeys([*kw[0].tolist(), *vec_keys.tolist()])), np.uint64)
        if not len(keys) or qvec is None:  # e.g. a quoted phrase no paper contains: no mode finds any
            out[qid] = None
            continue
        rows = gen.matrix.get(keys)
        out[qid] = Candidates(kw, vec_keys, keys, vectors._dot(rows, qvec), rows, qvec)
    return out


def convex(c: Candidates, a: float, cosine: np.ndarray | None = None) -> np.ndarray:
    """paperfeed's own fusion (`hybrid.convex`), as a score for each candidate in `c.keys`."""
    cos = c.cosine if cosine is None else cosine
    keys, fused = hybrid.convex(c.kw, (c.vec_keys, cos[c.at(c.vec_keys)]), a, lambda ks: cos[c.at(ks)])
    return c.aligned(keys, fused)


def normalised(c: Candidates, a: float, norm: str) -> np.ndarray:
    """Convex fusion with other score scalings: "zscore" or "raw" (cosine clipped at 0)."""
    bm25 = c.aligned(*c.kw)
    in_kw = c.aligned(c.kw[0], np.ones(len(c.kw[0]))) > 0
    if norm == "raw":
        return a * bm25 / (bm25.max() or 1.0) + (1 - a) * np.clip(c.cosine, 0, None)
    kw_part = np.where(in_kw, (bm25 - bm25[in_kw].mean()) / (bm25[in_kw].std() + 1e-9), -1.0) if in_kw.any() else 0.0
    ref = c.cosine[c.at(c.vec_keys)] if len(c.vec_keys) else c.cosine
    return a * kw_part + (1 - a) * (c.cosine - ref.mean()) / (ref.std() + 1e-9)


def rocchio(c: Candidates, a: float, k: int, beta: float) -> np.ndarray:
    top = np.argsort(-convex(c, a), kind="stable")[:k]
    q = c.qvec + beta * c.rows[top].mean(axis=0)
    return convex(c, a, vectors._dot(c.rows, q / np.linalg.norm(q)))


def propagate(c: Candidates, a: float, k: int, lam: float) -> np.ndarray:
    first = convex(c, a)
    top = np.argsort(-first, kind="stable")[:k]
    return first + lam * (c.rows @ c.rows[top].T).mean(axis=1)


def features(c: Candidates) -> np.ndarray:
    bm25 = c.aligned(*c.kw)
    rrf = lambda keys: c.aligned(keys, 60.0 / (60.0 + np.arange(1, len(keys) + 1)))  # noqa: E731
    low, high = c.cosine.min(), c.cosine.max()
    return np.stack([
        bm25 / (bm25.max() or 1.0), (c.cosine - low) / ((high - low) or 1.0), rrf(c.kw[0]), rrf(c.vec_keys),
        c.cosine, (c.cosine - c.cosine.mean()) / (c.cosine.std() + 1e-9), (rrf(c.kw[0]) > 0).astype(float),
    ], axis=1)


def ndcg(gen, cands: dict[str, Candidates | None], qrels: dict, scorer, per_query: bool = False):
    ranked = {
        qid: [] if c is None else c.keys[np.argsort(-scorer(c), kind="stable")[:100]].tolist()
        for qid, c in cands.items()
    }
    return beir_eval.evaluate(qrels, beir_eval.keyed_run(gen, ranked), per_query)["ndcg@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=beir_eval.SCIFACT)
    parser.add_argument("--workdir", type=Path, required=True, help="beir_eval.py's --workdir (built if empty)")
    args = parser.parse_args()
    corpus, queries, qrels = beir_eval.load(args.data)
    args.workdir.mkdir(parents=True, exist_ok=True)
    _, index_dir = beir_eval.build(args.workdir, corpus)
    gen = store.current(index_dir)
    print(f"index {index_dir}: {gen.meta.model_id}")
    train = gather(index_dir, {q: queries[q] for q in qrels["train"]})
    test = gather(index_dir, {q: queries[q] for q in qrels["test"]})

    methods = {
        "convex": ([(a,) for a in ALPHAS], convex),
        "zscore": ([(a,) for a in ALPHAS], lambda c, a: normalised(c, a, "zscore")),
        "raw-cosine": ([(round(float(a), 2),) for a in np.arange(0.15, 0.7, 0.05)], lambda c, a: normalised(c, a, "raw")),
        "rocchio": (list(itertools.product(ALPHAS[3:7], (1, 2, 3, 5), (0.25, 0.5, 1.0))), rocchio),
        "propagate": (list(itertools.product(ALPHAS[3:7], (1, 2, 3, 5), (0.1, 0.2, 0.3, 0.5))), propagate),
    }
    print(f"{'method':12} {'train':>7} {'test':>7}  parameters (chosen on train)")
    for name, (grid, fn) in methods.items():
        score, params = max((ndcg(gen, train, qrels["train"], lambda c, f=fn, p=p: f(c, *p)), p) for p in grid)
        test_score = ndcg(gen, test, qrels["test"], lambda c, f=fn, p=params: f(c, *p))
        print(f"{name:12} {score:7.4f} {test_score:7.4f}  {params}")

    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([features(c) for c in train.values() if c is not None])
    labels = []
    for q, c in train.items():
        if c is None:
            continue
        ids = gen.arxiv_ids(c.keys.tolist())
        labels.append([1 if qrels["train"][q].get(ids[k], 0) > 0 else 0 for k in c.keys.tolist()])
    y = np.concatenate(labels)
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x, y)
    learned = lambda c: model.decision_function(features(c))  # noqa: E731
    print(f"{'logistic':12} {ndcg(gen, train, qrels['train'], learned):7.4f} "
          f"{ndcg(gen, test, qrels['test'], learned):7.4f}  coefficients {np.round(model.coef_[0], 2).tolist()}")

    per = ndcg(gen, test, qrels["test"], lambda c: convex(c, hybrid.DEFAULT.keyword_weight), per_query=True)
    rng = np.random.default_rng(0)
    boot = np.array([per[rng.integers(0, len(per), len(per))].mean() for _ in range(10_000)])
    low, high = np.percentile(boot, [2.5, 97.5])
    print(f"default fusion on test: {per.mean():.4f}, bootstrap 95% interval {low:.4f}-{high:.4f} "
          f"over {len(per)} queries")


if __name__ == "__main__":
    main()
