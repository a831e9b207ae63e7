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
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import beir_eval  # noqa: E402

from paperfeed import search as pfsearch  # noqa: E402
from paperfeed.search import hybrid, keyword, query, store, vectors  # noqa: E402

DEPTH = 200  # candidates from each list, as the default fusion
ALPHAS = [round(float(a), 2) for a in np.arange(0.3, 0.8, 0.05)]


@dataclass
class Candidates:
    """One query's candidate union with everything a fusion method may use."""

    keys: np.ndarray  # uint64
    bm25: np.ndarray  # 0 where the keyword list lacks the paper
    kw_rank: np.ndarray  # 1-based, 0 where absent
    cosine: np.ndarray  # exact cosine from the matrix, for every candidate
    vec_rank: np.ndarray  # 1-based, 0 where absent from the vector list
    rows: np.ndarray  # the candidates' vectors
    qvec: np.ndarray


def gather(gen, queries: dict[str, str]) -> dict[str, Candidates | None]:
    out = {}
    for qid, text in queries.items():
        q = query.parse(text)
        kw = keyword.search(gen.keyword, q, DEPTH)
        qvec = pfsearch.query_vector(gen, q.text)
        vec_keys, _ = pfsearch._semantic(gen, q, DEPTH, qvec)
        keys = np.array(list(dict.fromkeys([*kw.keys.tolist(), *vec_keys.tolist()])), np.uint64)
        if not len(keys):  # e.g. a quoted phrase no paper contains: every mode returns nothing
            out[qid] = None
            continue
        at = {k: i for i, k in enumerate(keys.tolist())}
        bm25, kw_rank, vec_rank = (np.zeros(len(keys)) for _ in range(3))
        for rank, (k, s) in enumerate(zip(kw.keys.tolist(), kw.scores.tolist(), strict=True), 1):
            bm25[at[k]], kw_rank[at[k]] = s, rank
        for rank, k in enumerate(vec_keys.tolist(), 1):
            vec_rank[at[k]] = rank
        rows = gen.matrix.get(keys)
        out[qid] = Candidates(keys, bm25, kw_rank, vectors._dot(rows, qvec), vec_rank, rows, qvec)
    return out


def convex_scores(c: Candidates, a: float, cosine: np.ndarray | None = None, norm: str = "minmax") -> np.ndarray:
    cos = c.cosine if cosine is None else cosine
    in_kw, in_vec = c.kw_rank > 0, c.vec_rank > 0
    top = c.bm25.max() if in_kw.any() else 1.0
    if norm == "zscore":
        kw_part = np.where(in_kw, (c.bm25 - c.bm25[in_kw].mean()) / (c.bm25[in_kw].std() + 1e-9), -1.0) if in_kw.any() else 0.0
        ref = cos[in_vec] if in_vec.any() else cos
        vec_part = (cos - ref.mean()) / (ref.std() + 1e-9)
    else:
        kw_part = c.bm25 / (top or 1.0)
        if norm == "raw":
            vec_part = np.clip(cos, 0, None)
        else:
            low, high = cos.min(), cos.max()
            vec_part = (cos - low) / ((high - low) or 1.0)
    return a * kw_part + (1 - a) * vec_part


def rocchio(c: Candidates, a: float, k: int, beta: float) -> np.ndarray:
    first = convex_scores(c, a)
    top = np.argsort(-first, kind="stable")[:k]
    q = c.qvec + beta * c.rows[top].mean(axis=0)
    return convex_scores(c, a, vectors._dot(c.rows, q / np.linalg.norm(q)))


def propagate(c: Candidates, a: float, k: int, lam: float) -> np.ndarray:
    first = convex_scores(c, a)
    top = np.argsort(-first, kind="stable")[:k]
    return first + lam * (c.rows @ c.rows[top].T).mean(axis=1)


def features(c: Candidates) -> np.ndarray:
    top = c.bm25.max() or 1.0
    low, high = c.cosine.min(), c.cosine.max()
    inv = lambda r: np.where(r > 0, 60.0 / (60.0 + r), 0.0)  # noqa: E731
    return np.stack([
        c.bm25 / top, (c.cosine - low) / ((high - low) or 1.0), inv(c.kw_rank), inv(c.vec_rank),
        c.cosine, (c.cosine - c.cosine.mean()) / (c.cosine.std() + 1e-9), (c.kw_rank > 0).astype(float),
    ], axis=1)


def ndcg(gen, cands: dict[str, Candidates], qrels: dict, scorer, per_query: bool = False):
    run = {}
    ids: dict[int, str] = {}
    for qid, c in cands.items():
        if c is None:
            run[qid] = {}
            continue
        order = np.argsort(-scorer(c), kind="stable")[:100]
        keys = c.keys[order].tolist()
        missing = [k for k in keys if k not in ids]
        ids.update(gen.arxiv_ids(missing) if missing else {})
        run[qid] = {ids[k]: float(100 - i) for i, k in enumerate(keys)}
    if per_query:
        from ranx import Qrels, Run
        from ranx import evaluate as ranx_evaluate

        run = {q: r or {"__none__": 0.0} for q, r in run.items()}
        return np.asarray(ranx_evaluate(Qrels(qrels), Run(run), "ndcg@10", return_mean=False))
    return beir_eval.evaluate(qrels, run)["ndcg@10"]


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
    train = gather(gen, {q: queries[q] for q in qrels["train"]})
    test = gather(gen, {q: queries[q] for q in qrels["test"]})

    methods = {
        "convex": ([(a,) for a in ALPHAS], lambda c, a: convex_scores(c, a)),
        "zscore": ([(a,) for a in ALPHAS], lambda c, a: convex_scores(c, a, norm="zscore")),
        "raw-cosine": ([(round(float(a), 2),) for a in np.arange(0.15, 0.7, 0.05)], lambda c, a: convex_scores(c, a, norm="raw")),
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

    per = ndcg(gen, test, qrels["test"], lambda c: convex_scores(c, hybrid.DEFAULT.keyword_weight), per_query=True)
    rng = np.random.default_rng(0)
    boot = np.array([per[rng.integers(0, len(per), len(per))].mean() for _ in range(10_000)])
    low, high = np.percentile(boot, [2.5, 97.5])
    print(f"default fusion on test: {per.mean():.4f}, bootstrap 95% interval {low:.4f}-{high:.4f} "
          f"over {len(per)} queries")


if __name__ == "__main__":
    main()
