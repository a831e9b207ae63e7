"""
BEIR SciFact through paperfeed's own search path: ingest, index, query.

The corpus is ingested as papers (`_id` becomes the paper id) into a fresh
SQLite database with the shared upsert, indexed with `paperfeed.search.update_index`,
and every test query goes through the public `paperfeed.search.search()` in
keyword, semantic and hybrid mode.  nDCG@10 and Recall@100 come from ranx.

    python benchmarks/beir_eval.py                      # test split, all modes
    python benchmarks/beir_eval.py --tune               # grid-search fusion on TRAIN, then test
    python benchmarks/beir_eval.py --compare-engines    # tantivy vs SQLite FTS5 keyword search
    python benchmarks/beir_eval.py --workdir /tmp/sf    # keep (and reuse) the database and index

References (nDCG@10 on SciFact test): BM25 0.665 (BEIR paper), bm25s with
stemming 0.686, all-MiniLM-L6-v2 0.645 (MTEB), RRF of those two 0.717.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paperfeed import db  # noqa: E402
from paperfeed import search as pfsearch  # noqa: E402
from paperfeed.ingest.records import PaperRecord  # noqa: E402
from paperfeed.ingest.upsert import write_batch  # noqa: E402
from paperfeed.search import hybrid, keyword, pipeline, query, store  # noqa: E402

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
METRICS = ["ndcg@10", "recall@100"]


def load(folder: Path):
    corpus = [json.loads(line) for line in open(folder / "corpus.jsonl")]
    queries = {q["_id"]: q["text"] for q in map(json.loads, open(folder / "queries.jsonl"))}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for split in ("train", "test"):
        qrels[split] = {}
        with open(folder / "qrels" / f"{split}.tsv") as f:
            next(f)  # header
            for line in f:
                qid, did, score = line.rstrip("\n").split("\t")
                qrels[split].setdefault(qid, {})[did] = int(score)
    return corpus, queries, qrels


def evaluate(qrels: dict, run: dict, per_query: bool = False) -> dict:
    """METRICS averaged over the queries, or (`per_query`) an array of each query's values."""
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64 cast chatter
        run = {q: (r or {"__none__": 0.0}) for q, r in run.items()}
        scores = ranx_evaluate(Qrels(qrels), Run(run), METRICS, return_mean=not per_query)
    return {m: np.asarray(scores[m]) if per_query else float(scores[m]) for m in METRICS}


def build(workdir: Path, corpus: list[dict]):
    """The database and index in `workdir`, made once and reused."""
    engine = db.connect(f"sqlite:///{workdir / 'scifact.db'}")
    index_dir = workdir / "index"
    if store.current_name(index_dir) is None:
        t = time.perf_counter()
        for start in range(0, len(corpus), 2000):
            write_batch(engine, [
                PaperRecord(arxiv_id=d["_id"], source="beir", title=d.get("title") or None, abstract=d["text"])
                for d in corpus[start : start + 2000] if d["text"].strip()
            ])
        print(f"ingested {len(corpus)} documents in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        report = pfsearch.update_index(engine, index_dir=index_dir, progress=_progress())
        print(f"indexed in {report.seconds:.1f}s", file=sys.stderr)
    return engine, index_dir


def _progress():
    last = [0.0, 0]

    def report(phase: str, advance: int, total: int) -> None:
        last[1] += advance
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            print(f"  {phase}: {last[1]}/{total}", file=sys.stderr)

    return report


def run_mode(engine, index_dir, queries: dict[str, str], mode: str, depth: int = 100):
    run, seconds = {}, []
    for qid, text in queries.items():
        t = time.perf_counter()
        page = pfsearch.search(engine, text, mode=mode, limit=depth, index_dir=index_dir)
        seconds.append(time.perf_counter() - t)
        run[qid] = {h.arxiv_id: float(len(page.hits) - i) for i, h in enumerate(page.hits)}
    return run, float(np.median(seconds) * 1000)


def candidates(index_dir, queries: dict[str, str], depth: int):
    """Each query's keyword and vector candidates (keys, scores) and its query vector
    (None for a query without words), for offline fusion."""
    gen = store.current(index_dir)
    out = {}
    for qid, text in queries.items():
        q = query.parse(text)
        kw = keyword.search(gen.keyword, q, depth)
        vec, qvec = (np.empty(0, np.uint64), np.empty(0)), None
        if q.text:
            qvec = pipeline.query_vector(gen, q.text)
            vec = pipeline._semantic(gen, q, depth, qvec)
        out[qid] = ((kw.keys, kw.scores), vec, qvec)
    return gen, out


def keyed_run(gen, ranked: dict[str, list[int]]) -> dict:
    """A ranx run from each query's index keys, best first."""
    ids: dict[int, str] = {}
    run = {}
    for qid, keys in ranked.items():
        missing = [k for k in keys if k not in ids]
        ids.update(gen.arxiv_ids(missing) if missing else {})
        run[qid] = {ids[k]: float(len(keys) - i) for i, k in enumerate(keys)}
    return run


def fused_run(gen, cands, params: hybrid.Fusion) -> dict:
    ranked = {}
    for qid, (kw, vec, qvec) in cands.items():
        score = None if qvec is None else pipeline.vector_scorer(gen, qvec)
        ranked[qid] = hybrid.fuse(kw, vec, params, score)[0][:100].tolist()
    return keyed_run(gen, ranked)


def tune(index_dir, queries, qrels_train) -> tuple[hybrid.Fusion, list]:
    gen, cands = candidates(index_dir, {q: queries[q] for q in qrels_train}, 300)
    grid = []
    for depth in (50, 100, 200, 300):
        for k in (10, 20, 40, 60, 100):
            for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5):
                grid.append(hybrid.Fusion("rrf", k, w, 1.0, depth))
        for a in np.arange(0.1, 0.8, 0.05):
            grid.append(hybrid.Fusion("convex", 60.0, round(float(a), 2), 1.0, depth))
    results = []
    for params in grid:
        results.append((evaluate(qrels_train, fused_run(gen, cands, params))["ndcg@10"], params))
    results.sort(key=lambda r: -r[0])
    return results[0][1], results


def compare_engines(corpus, queries, qrels_test) -> None:
    """BM25 in tantivy (as paperfeed indexes it) vs SQLite FTS5 (porter, weighted bm25())."""
    tests = {q: queries[q] for q in qrels_test}
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table t using fts5(id unindexed, title, abstract, tokenize='porter unicode61')")
    t = time.perf_counter()
    conn.executemany("insert into t values (?, ?, ?)", [(d["_id"], d["title"], d["text"]) for d in corpus])
    conn.commit()
    fts_build = time.perf_counter() - t
    for weights in ((1.0, 1.0), (2.0, 1.0)):
        run, t = {}, time.perf_counter()
        for qid, text in tests.items():
            expr = " OR ".join(f'"{w}"' for w in re.findall(r"\w+", text.lower()))
            rows = conn.execute(
                f"select id, bm25(t, 0, {weights[0]}, {weights[1]}) s from t where t match ? order by s limit 100",
                (expr,),
            ).fetchall()
            run[qid] = {i: -s for i, s in rows}
        ms = (time.perf_counter() - t) / len(tests) * 1000
        print(f"fts5 title:abstract {weights}: {evaluate(qrels_test, run)} {ms:.2f} ms/query, build {fts_build:.2f}s")
    with tempfile.TemporaryDirectory() as tmp:
        index = keyword.open_index(Path(tmp))
        t = time.perf_counter()
        writer = index.writer(keyword.WRITER_HEAP)
        for i, d in enumerate(corpus):
            writer.add_document(keyword.document(i, d["_id"], d["title"], d["text"], [], [], None))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        build_s = time.perf_counter() - t
        ids = [d["_id"] for d in corpus]
        run, t = {}, time.perf_counter()
        for qid, text in tests.items():
            hits = keyword.search(index, query.parse(text), 100)
            run[qid] = {ids[k]: float(s) for k, s in zip(hits.keys.tolist(), hits.scores.tolist(), strict=True)}
        ms = (time.perf_counter() - t) / len(tests) * 1000
        print(f"tantivy (paperfeed keyword.py): {evaluate(qrels_test, run)} {ms:.2f} ms/query, build {build_s:.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SCIFACT)
    parser.add_argument("--workdir", type=Path, help="keep the database and index here (reused when present)")
    parser.add_argument("--tune", action="store_true", help="grid-search fusion parameters on the train split")
    parser.add_argument("--compare-engines", action="store_true")
    args = parser.parse_args()
    corpus, queries, qrels = load(args.data)
    if args.compare_engines:
        compare_engines(corpus, queries, qrels["test"])
        return
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory()
        args.workdir = Path(tmp.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    engine, index_dir = build(args.workdir, corpus)
    results = {}
    if args.tune:
        best, grid = tune(index_dir, queries, qrels["train"])
        print("top fusion settings on TRAIN (nDCG@10):")
        for score, params in grid[:10]:
            print(f"  {score:.4f}  {params}")
        rrf60 = next(s for s, p in grid if p == hybrid.RRF60)
        print(f"  {rrf60:.4f}  {hybrid.RRF60} (baseline)")
        gen, cands = candidates(index_dir, {q: queries[q] for q in qrels["test"]}, 300)
        for name, params in (("hybrid-rrf60", hybrid.RRF60), ("hybrid-tuned", best)):
            results[name] = evaluate(qrels["test"], fused_run(gen, cands, params))
            print(f"test {name} {params}: {results[name]}")
    tests = {q: queries[q] for q in qrels["test"]}
    print(f"{'mode':10} {'nDCG@10':>8} {'R@100':>7} {'p50 ms':>7}")
    for mode in ("keyword", "semantic", "hybrid"):
        run, p50 = run_mode(engine, index_dir, tests, mode)
        results[mode] = {**evaluate(qrels["test"], run), "p50_ms": p50}
        r = results[mode]
        print(f"{mode:10} {r['ndcg@10']:8.4f} {r['recall@100']:7.4f} {p50:7.1f}")
    for mode in ("keyword", "semantic", "hybrid"):
        print(f"scifact_{mode}_ndcg@10: {results[mode]['ndcg@10']:.4f}")
        print(f"scifact_{mode}_recall@100: {results[mode]['recall@100']:.4f}")
    best_part = max(results["keyword"]["ndcg@10"], results["semantic"]["ndcg@10"])
    print(f"scifact_hybrid_gain_over_best_part: {results['hybrid']['ndcg@10'] - best_part:+.4f}")
    if tmp is not None:
        engine.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    main()
