"""
"For you" quality on BEIR SciFact: does the ranking find a topic's other papers?

Every query with two or more relevant papers (train and test qrels together)
stands for a reader's topic.  Table "one": the library is one of its papers
(each in turn) and the others should come first among all 5,183 papers
(library excluded).  Table "half": the library is a random half of them (at
least one; three draws per topic).  Recall@10 and nDCG@10 are averaged per
topic, then over topics, with a 95% bootstrap interval over topics.

Every model runs in this one run on the same vectors: centroid cosine,
max-similarity, logistic regression on embeddings, arxiv-sanity-lite's tf-idf
+ LinearSVC exactly as its compute.py/serve.py (C=0.01), the existing
similar-papers function (`paperfeed.search.similar`, in `search/neighbours.py`; one-paper table only) and
the default (embedding + tf-idf pair similarity, `paperfeed.recommend.fit`).
Parameters are chosen by 5-fold cross-validation over topics (on Recall@10,
then nDCG@10) and the held-out folds are reported.  Vectors come from the
shipped encoders (`paperfeed.search.encoder`) and are cached in --workdir:
For you ranks with the For-you vectors (`--variant`, default
`PAPERFEED_FORYOU_VARIANT`, onnx/128), the similar-papers row uses the search
vectors it is served from (`--search-variant`, default onnx-int8/192).

    python benchmarks/recommend_eval.py --workdir /tmp/rec-work
    python benchmarks/recommend_eval.py --workdir /tmp/rec-work --variant onnx-int8/192
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paperfeed.recommend import baselines, fit, terms  # noqa: E402
from paperfeed.recommend.profile import Profile  # noqa: E402
from paperfeed.recommend.window import Window  # noqa: E402

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
K = 10
FOLDS = 5
HALF_DRAWS = 3
TERM_SPACES = {"asl": {}, "wide": {"min_df": 2, "max_features": None}}
HYBRID_GRID = [(space, w, k) for space in TERM_SPACES for w in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
               for k in (1, 2, None)]
LOGISTIC_C = (0.1, 1.0, 10.0)


def load(folder: Path):
    corpus = [json.loads(line) for line in open(folder / "corpus.jsonl")]
    rel: dict[str, set[str]] = {}
    for split in ("train", "test"):
        with open(folder / "qrels" / f"{split}.tsv") as f:
            next(f)
            for line in f:
                qid, did, s = line.split()
                if int(s) > 0:
                    rel.setdefault(qid, set()).add(did)
    ids = {d["_id"] for d in corpus}
    topics = {q: sorted(d for d in docs if d in ids) for q, docs in rel.items()}
    return corpus, {q: d for q, d in sorted(topics.items()) if len(d) >= 2}


def embeddings(workdir: Path, corpus: list[dict], variant: str) -> np.ndarray:
    path = workdir / f"vectors-{variant.replace('/', '-')}.npy"
    if path.exists():
        return np.load(path)
    os.environ.setdefault("PAPERFEED_DATA_DIR", str(workdir))  # the ONNX export is cached there
    from paperfeed.search import encoder as enc

    e = enc.get_encoder(variant=variant)
    t = time.perf_counter()
    vecs = e.encode_documents([enc.document_text(d.get("title"), d["text"]) for d in corpus])
    print(f"encoded {len(corpus)} papers with {e.model_id} in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    np.save(path, vecs)
    return vecs


def cases(topics: dict[str, list[str]], table: str) -> list[tuple[str, list[str], list[str]]]:
    """(topic, library, targets) for every library a table tries."""
    out = []
    rng = np.random.default_rng(13)
    for q, docs in topics.items():
        if table == "one":
            out += [(q, [d], [x for x in docs if x != d]) for d in docs]
        else:
            for _ in range(HALF_DRAWS):
                lib = sorted(rng.choice(docs, size=max(1, len(docs) // 2), replace=False).tolist())
                out.append((q, lib, [x for x in docs if x not in lib]))
    return out


def metrics(ranked: list[str], targets: list[str]) -> tuple[float, float]:
    """Recall@10 and binary nDCG@10 of one ranking."""
    top = ranked[:K]
    hits = [1.0 if d in targets else 0.0 for d in top]
    dcg = sum(h / np.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(targets), K)))
    return sum(hits) / len(targets), dcg / ideal


def per_topic(results: list[tuple[str, float, float]], topics: list[str]) -> np.ndarray:
    """(len(topics), 2) mean Recall@10 and nDCG@10 per topic."""
    acc: dict[str, list] = {q: [] for q in topics}
    for q, r, n in results:
        acc[q].append((r, n))
    return np.array([np.mean(acc[q], axis=0) for q in topics])


def bootstrap(values: np.ndarray, rounds: int = 2000) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    means = values[rng.integers(0, len(values), (rounds, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def top_ids(ids: list[str], scores: np.ndarray, exclude: set[int]) -> list[str]:
    order = np.argsort(-scores, kind="stable")
    return [ids[i] for i in order[: K + len(exclude)] if i not in exclude][:K]


class Bench:
    """The corpus as one window per term space, and every model's ranking of a case."""

    def __init__(self, corpus, vecs, search_vecs):
        self.ids = [d["_id"] for d in corpus]
        self.row = {d: i for i, d in enumerate(self.ids)}
        texts = [terms.paper_text(d.get("title"), d["text"]) for d in corpus]
        self.vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        self.spaces = {name: terms.TermSpace.fit(texts, **opts) for name, opts in TERM_SPACES.items()}
        self.windows = {name: Window.build(self.ids, vecs, texts=texts, space=s) for name, s in self.spaces.items()}
        self.asl_x = self.windows["asl"].terms  # arxiv-sanity-lite's features: the same vectorizer
        search_vecs = search_vecs / np.linalg.norm(search_vecs, axis=1, keepdims=True)
        self.similar = similar_gen(self.ids, search_vecs)

    def profile(self, space: str, library: list[str]) -> Profile:
        w = self.windows[space]
        rows = w.rows_of(library)
        return Profile.build(library, w.vectors[rows], saved_terms=w.terms[rows])

    def model(self, model: fit.Model, space: str, library: list[str]) -> list[str]:
        f = fit.score(self.windows[space], self.profile(space, library), model)
        return [self.ids[r] for r in f.rows[:K]]

    def asl(self, library: list[str], C: float = 0.01) -> list[str]:
        rows = [self.row[d] for d in library]
        return top_ids(self.ids, baselines.asl_svm(self.asl_x, rows, C=C), set(rows))

    def logistic(self, library: list[str], C: float) -> list[str]:
        rows = [self.row[d] for d in library]
        return top_ids(self.ids, baselines.logistic(self.vecs, rows, C=C), set(rows))

    def similar_papers(self, library: list[str]) -> list[str]:
        keys, _ = similar_module().neighbours(self.similar, library[0], K)
        return [self.ids[int(k)] for k in keys]


class _Generation:
    """The parts of a search index generation that `similar.neighbours` reads, over given vectors."""

    def __init__(self, ids, vecs):
        from paperfeed.search import vectors

        self.id = f"scifact-{len(ids)}"
        self._key = {d: i for i, d in enumerate(ids)}
        self.vectors = vectors.new_index(vecs.shape[1], "i8")
        vectors.upsert(self.vectors, np.arange(len(ids), dtype=np.uint64), vecs)
        self.matrix = vectors.Matrix(*vectors.quantise(vecs))

    def key_of(self, arxiv_id):
        return self._key.get(arxiv_id)


def similar_module():
    """The similar-papers module behind `paperfeed.search.similar`."""
    from paperfeed.search import neighbours

    return neighbours


def similar_gen(ids, vecs):
    return _Generation(ids, vecs)


def run_cases(name, rank, case_list):
    t = time.perf_counter()
    out = [(q, *metrics(rank(lib), tg)) for q, lib, tg in case_list]
    print(f"  {name}: {len(case_list)} libraries in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    return out


def cross_validate(grid_results: dict, topics: list[str]) -> tuple[np.ndarray, list]:
    """Held-out per-topic metrics when each fold's parameters are chosen on the other folds."""
    rng = np.random.default_rng(5)
    fold_of = dict(zip(topics, rng.permutation(len(topics)) % FOLDS, strict=True))
    tables = {p: per_topic(r, topics) for p, r in grid_results.items()}
    held = np.zeros((len(topics), 2))
    chosen = []
    for f in range(FOLDS):
        train = np.array([fold_of[q] != f for q in topics])
        best = max(tables, key=lambda p: (tables[p][train, 0].mean(), tables[p][train, 1].mean()))
        held[~train] = tables[best][~train]
        chosen.append(best)
    return held, chosen


def line(name, values):
    (rl, rh), (nl, nh) = bootstrap(values[:, 0]), bootstrap(values[:, 1])
    r, n = values.mean(axis=0)
    return f"{name:34} {r:.3f} [{rl:.3f}, {rh:.3f}]   {n:.3f} [{nl:.3f}, {nh:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SCIFACT)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/recommend-eval"))
    from paperfeed import settings

    shipped = settings.get("foryou_variant").strip() or "onnx-int8/192"  # empty: the search vectors
    parser.add_argument("--variant", default=shipped, help=f"For-you encoder variant (shipped: {shipped})")
    parser.add_argument("--search-variant", default="onnx-int8/192",
                        help="the search vectors' variant, which similar papers are served from")
    parser.add_argument("--quick", action="store_true", help="a smaller grid, no logistic C search")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus, topics = load(args.data)
    vecs = embeddings(args.workdir, corpus, args.variant)
    search_vecs = vecs if args.search_variant == args.variant else embeddings(args.workdir, corpus, args.search_variant)
    bench = Bench(corpus, vecs, search_vecs)
    names = list(topics)
    print(f"{len(corpus)} papers, {len(topics)} topics with >= 2 relevant papers, "
          f"For-you vectors {args.variant}, similar papers on {args.search_variant}")
    grid = HYBRID_GRID if not args.quick else [g for g in HYBRID_GRID if g[2] in (1, None) and g[1] in (0, .3, .5)]
    headline = {}
    for table in ("one", "half"):
        case_list = cases(topics, table)
        print(f"\ntable {table!r}: {len(case_list)} libraries", file=sys.stderr)
        rows: dict[str, np.ndarray] = {}
        chosen_all: dict[str, list] = {}
        base = replace(fit.DEFAULT, dismissed_weight=0.0)
        rows["centroid cosine"] = per_topic(run_cases("centroid", lambda lib, base=base: bench.model(
            replace(base, term_weight=0.0, top_k=None), "asl", lib), case_list), names)
        rows["max-similarity"] = per_topic(run_cases("maxsim", lambda lib, base=base: bench.model(
            replace(base, term_weight=0.0, top_k=1), "asl", lib), case_list), names)
        log_grid = {C: run_cases(f"logistic C={C}", lambda lib, C=C: bench.logistic(lib, C), case_list)
                    for C in (LOGISTIC_C if not args.quick else (1.0,))}
        rows["logistic regression (CV C)"], chosen_all["logistic"] = cross_validate(log_grid, names)
        rows["arxiv-sanity-lite (C=0.01)"] = per_topic(run_cases("asl", bench.asl, case_list), names)
        if table == "one":
            rows["similar papers (search)"] = per_topic(run_cases("similar", bench.similar_papers, case_list), names)
        hybrid_grid = {g: run_cases(f"hybrid {g}", lambda lib, g=g, base=base: bench.model(
            replace(base, term_weight=g[1], top_k=g[2]), g[0], lib), case_list) for g in grid}
        rows["default: hybrid (CV)"], chosen_all["hybrid"] = cross_validate(hybrid_grid, names)
        space = next((n for n, o in TERM_SPACES.items() if o == terms.FOR_YOU), "?")
        shipped = (space, fit.DEFAULT.term_weight, fit.DEFAULT.top_k)
        if shipped in hybrid_grid:
            rows[f"shipped default {shipped} (all)"] = per_topic(hybrid_grid[shipped], names)
        print(f"\n{table}: {len(case_list)} libraries over {len(names)} topics; held-out folds for CV rows")
        print(f"{'model':34} {'Recall@10 [95% CI]':22}   {'nDCG@10 [95% CI]'}")
        for name, values in rows.items():
            print(line(name, values))
        for name, picks in chosen_all.items():
            print(f"  CV choices ({name}, per fold): {Counter(map(str, picks)).most_common()}")
        headline[table] = {n: float(v[:, 0].mean()) for n, v in rows.items()}
    one, half = headline["one"], headline["half"]
    for table, h in (("one", one), ("half", half)):
        gain = h["default: hybrid (CV)"] - h["arxiv-sanity-lite (C=0.01)"]
        print(f"recommend_{table}_gain_over_asl: {gain:+.3f}")
    print(f"recommend_half_default_recall@10: {half['default: hybrid (CV)']:.3f}")
    print(f"recommend_default_recall@10: {one['default: hybrid (CV)']:.3f}")
    print(f"recommend_asl_recall@10: {one['arxiv-sanity-lite (C=0.01)']:.3f}")
    print(f"recommend_similar_recall@10: {one['similar papers (search)']:.3f}")


if __name__ == "__main__":
    main()
