"""
How fast, and how well, each embedding variant encodes abstracts.

For every variant this embeds the BEIR SciFact corpus (title + " " + abstract,
as `paperfeed.search.encoder.document_text` does), ranks it for the test
queries by exact cosine and scores the ranking with ranx (nDCG@10, Recall@100).
Speed is measured separately, round-robin over the variants on one sample of
abstracts, keeping each variant's best round: on a shared machine the best
round is the one least disturbed by other work.  Single-query latency is the
median over the test queries, each encoded alone.

Example:
    python benchmarks/encoder_speed.py --variants torch/256,onnx-int8/256 --limit 1000
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import quantisation

from paperfeed.search import encoder as enc

SCIFACT = Path(os.environ.get("PAPERFEED_SCIFACT", "/work/shared/eval/scifact"))
BASELINE = "torch/256"  # sentence-transformers float32 with MiniLM's own 256-token limit
VARIANTS = "torch/256,torch/128,torch-qint8/256,onnx/256,onnx-int8/256,onnx-int8/192,onnx-int8/128"


def load_scifact(limit: int | None) -> tuple[list[str], list[str], dict[str, str], dict]:
    corpus = [json.loads(line) for line in open(SCIFACT / "corpus.jsonl")]
    queries = {q["_id"]: q["text"] for q in map(json.loads, open(SCIFACT / "queries.jsonl"))}
    qrels: dict[str, dict[str, int]] = {}
    for line in list(open(SCIFACT / "qrels" / "test.tsv"))[1:]:
        qid, did, score = line.split()
        qrels.setdefault(qid, {})[did] = int(score)
    if limit:  # keep every judged document so that each query can still be answered
        judged = {d for rel in qrels.values() for d in rel}
        corpus = [d for i, d in enumerate(corpus) if i < limit or d["_id"] in judged]
    ids = [d["_id"] for d in corpus]
    texts = [enc.document_text(d["title"], d["text"]) for d in corpus]
    return ids, texts, {q: queries[q] for q in qrels}, qrels


def make_encoder(variant: str, device: str) -> enc.Encoder:
    if variant.startswith("torch-qint8"):
        # PyTorch's own dynamic int8 (Linear layers only), measured for comparison;
        # not an encoder variant because ONNX int8 beat it.
        import torch

        e = copy.copy(enc.get_encoder(variant=variant.replace("torch-qint8", "torch"), device="cpu"))
        e.st = torch.ao.quantization.quantize_dynamic(e.st, {torch.nn.Linear}, dtype=torch.qint8)  # a copy
        e.model_id = e.model_id.replace("/torch/", "/torch-qint8/")
        return e
    if variant.startswith(quantisation.EXPERIMENTAL):  # measured, not shipped: see quantisation.py
        return quantisation.experimental_encoder(variant)
    return enc.get_encoder(variant=variant, device=device)


def quality(e: enc.Encoder, ids, texts, queries, qrels, batch_size: int) -> dict:
    from ranx import Qrels, Run, evaluate

    start = time.perf_counter()
    docs = e.encode_documents(texts, batch_size=batch_size)
    corpus_s = time.perf_counter() - start
    qids = list(queries)
    latencies, qvecs = [], []
    for q in qids:
        t = time.perf_counter()
        qvecs.append(e.encode_query(queries[q]))
        latencies.append(time.perf_counter() - t)
    scores = np.stack(qvecs) @ docs.T
    run = {}
    for row, q in enumerate(qids):
        top = np.argpartition(-scores[row], 100)[:100]
        run[q] = {ids[j]: float(scores[row, j]) for j in top}
    metrics = evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@100"])
    return {
        "ndcg10": metrics["ndcg@10"], "recall100": metrics["recall@100"],
        "corpus_docs_per_s": len(texts) / corpus_s, "query_ms": 1000 * float(np.median(latencies)),
        "vectors": docs,
    }


# Each variant runs in its own worker processes, so that one variant's thread
# pools (ONNX Runtime and PyTorch both spin while waiting) never slow another.
_worker: dict = {}


def _start_worker(variant: str, device: str, threads: int) -> None:
    os.environ["PAPERFEED_EMBEDDING_THREADS"] = str(threads)
    start = time.perf_counter()
    _worker["encoder"] = make_encoder(variant, device)  # includes the ONNX export when not cached
    _worker["load_s"] = time.perf_counter() - start


def _quality_job(args) -> dict:
    e = _worker["encoder"]
    return {"model_id": e.model_id, "load_s": _worker["load_s"], **quality(e, *args)}


def _encode_job(args) -> float:
    texts, batch_size = args
    start = time.process_time()
    _worker["encoder"].encode_documents(texts, batch_size=batch_size)
    return time.process_time() - start


def workers(variant: str, device: str, processes: int):
    """A pool of `processes` encoders of one variant, sharing the cores between them."""
    threads = max(1, len(os.sched_getaffinity(0)) // processes)
    ctx = mp.get_context("spawn")
    return ctx.Pool(processes, initializer=_start_worker, initargs=(variant, device, threads))


def speed(pool, processes: int, texts: list[str], batch_size: int) -> tuple[float, float]:
    """Documents per second of wall time and of CPU time; several processes share the texts.

    CPU time is steadier than wall time on a busy machine, but it also counts
    threads spinning while they wait for each other.
    """
    start = time.perf_counter()
    cpu = pool.map(_encode_job, [(texts[i::processes], batch_size) for i in range(processes)], chunksize=1)
    return len(texts) / (time.perf_counter() - start), len(texts) / sum(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="embed only the first N corpus documents (plus every judged one)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--variants", default=VARIANTS, help=f"comma-separated (default {VARIANTS})")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--speed-docs", type=int, default=256, help="abstracts in the speed sample")
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds; the best one counts")
    parser.add_argument("--processes", default="1",
                        help="encoder processes sharing the cores; a list such as 1,2 compares them")
    parser.add_argument("--data-dir", help="where ONNX exports are cached (default: a fresh temporary directory)")
    args = parser.parse_args()

    os.environ["PAPERFEED_DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="encoder-bench-")
    default = enc.GPU_VARIANT if args.device == "cuda" else enc.CPU_VARIANT
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in (BASELINE, default):
        if v not in variants:
            variants.insert(0, v)
    ids, texts, queries, qrels = load_scifact(args.limit)
    load_before = os.getloadavg()[0]  # other work on the machine slows every variant
    processes = [int(p) for p in args.processes.split(",")]
    print(f"SciFact: {len(texts)} documents, {len(queries)} test queries, device {args.device}, "
          f"{len(os.sched_getaffinity(0))} cores, batch {args.batch_size}, processes {args.processes}")

    rows: dict[str, dict] = {}
    for v in variants:  # quality first: it also builds and caches ONNX exports
        with workers(v, args.device, 1) as pool:
            rows[v] = pool.apply(_quality_job, ((ids, texts, queries, qrels, args.batch_size),))
        print(f"  {v:18s} nDCG@10 {rows[v]['ndcg10']:.4f}  {rows[v]['corpus_docs_per_s']:.1f} docs/s (corpus pass)", flush=True)

    sample = sorted(texts, key=len)[:: max(1, len(texts) // args.speed_docs)][: args.speed_docs]
    pools = {(v, p): workers(v, args.device, p) for v in variants for p in processes}
    try:
        for (_, p), pool in pools.items():  # warm up: load models, first-run allocations
            speed(pool, p, sample[: args.batch_size * p], args.batch_size)
        for _ in range(args.rounds):
            for (v, p), pool in pools.items():
                wall, cpu = speed(pool, p, sample, args.batch_size)
                best = rows[v].setdefault("speed", {}).setdefault(p, [0.0, 0.0])
                best[:] = max(best[0], wall), max(best[1], cpu)
    finally:
        for pool in pools.values():
            pool.terminate()
    for r in rows.values():  # the first --processes setting is the one in the main table
        r["docs_per_s"], r["docs_per_cpu_s"] = r["speed"][processes[0]]

    base = rows[BASELINE]["vectors"]
    print(f"\n{'variant':18s} {'docs/s':>8s} {'/cpu-s':>7s} {'corpus':>8s} {'query ms':>9s} {'nDCG@10':>8s} {'Δ':>7s} "
          f"{'R@100':>6s} {'cos mean':>8s} {'cos min':>8s} {'load s':>7s}")
    for v, r in rows.items():
        cos = np.sum(r["vectors"] * base, axis=1)
        r["cos_mean"], r["cos_min"] = float(cos.mean()), float(cos.min())
        print(f"{v:18s} {r['docs_per_s']:8.1f} {r['docs_per_cpu_s']:7.1f} {r['corpus_docs_per_s']:8.1f} {r['query_ms']:9.1f} "
              f"{r['ndcg10']:8.4f} {r['ndcg10'] - rows[BASELINE]['ndcg10']:+7.4f} {r['recall100']:6.3f} "
              f"{r['cos_mean']:8.4f} {r['cos_min']:8.4f} {r['load_s']:7.1f}")

    if len(processes) > 1:
        print(f"\ndocs/s (and per CPU-second) by number of processes sharing the "
              f"{len(os.sched_getaffinity(0))} cores:")
        print(f"{'variant':18s} " + " ".join(f"{f'{p} proc':>16s}" for p in processes))
        for v, r in rows.items():
            print(f"{v:18s} " + " ".join(f"{r['speed'][p][0]:7.1f} ({r['speed'][p][1]:6.1f})" for p in processes))

    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    print(f"\nmachine: {model}, {len(os.sched_getaffinity(0))} cores; date {date.today()}; "
          f"load average {os.getloadavg()[0]:.1f} at the end ({load_before:.1f} at the start)")
    b, d = rows[BASELINE], rows[default]
    print(f"baseline_docs_per_s: {b['docs_per_s']:.1f}")
    print(f"baseline_ndcg10: {b['ndcg10']:.4f}")
    print(f"default_variant: {d['model_id']}")
    print(f"default_docs_per_s: {d['docs_per_s']:.1f}")
    print(f"baseline_docs_per_cpu_s: {b['docs_per_cpu_s']:.1f}")
    print(f"default_docs_per_cpu_s: {d['docs_per_cpu_s']:.1f}")
    print(f"default_speedup: {d['docs_per_s'] / b['docs_per_s']:.2f}")
    print(f"default_ndcg10: {d['ndcg10']:.4f}")
    print(f"default_ndcg10_loss: {b['ndcg10'] - d['ndcg10']:.4f}")
    print(f"default_recall100: {d['recall100']:.4f}")
    print(f"default_query_ms: {d['query_ms']:.1f}")


if __name__ == "__main__":
    main()
