"""
Search at scale: a synthetic corpus of a million papers, indexed by `paperfeed
index`'s code and queried through `paperfeed.search.search()`.

Papers are generated from BEIR SciFact: each takes a real abstract as its topic
and mixes its words with words drawn by their corpus frequency, so postings
follow the real (Zipfian) distribution; authors, categories and dates are
drawn from pools.  Document vectors are not encoded (that would take days on 2
cores) but made from the text: the sum of fixed random vectors of its words,
normalised -- papers on one topic lie close together, as real embeddings do --
with the real dimension (384) and storage type (int8).  Queries are encoded by
the real MiniLM encoder, so semantic latency includes encoding.

    python benchmarks/search_scale.py --papers 100000     # quick check (~3 min)
    python benchmarks/search_scale.py                     # 1,000,000 papers (~20 min)

Queries run in a separate serving process, whose peak RSS is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
CATEGORIES = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "cs.CR", "cs.DS", "cs.IR", "cs.NE",
              "math.OC", "math.PR", "math.ST", "q-bio.NC", "q-bio.GN", "q-bio.BM", "physics.bio-ph",
              "physics.med-ph", "cond-mat.soft", "eess.IV", "eess.SP", "hep-th", "hep-ph", "astro-ph.CO",
              "quant-ph", "econ.EM", "q-fin.ST", "cs.HC", "cs.SE", "cs.DC"]
FIRST = ["Wei", "Anna", "Jose", "Priya", "Lukas", "Mei", "Omar", "Sara", "Ivan", "Yuki", "Ana", "David",
         "Fatima", "Chen", "Maria", "John", "Aisha", "Pierre", "Olga", "Raj", "Lena", "Tom", "Hana", "Ali"]
WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")


class SyntheticEncoder:
    """Vectors from words (sum of fixed random vectors), queries from the real model."""

    def __init__(self, real, vocab: dict[str, int]) -> None:
        self.real, self.model_id, self.dim = real, real.model_id, real.dim
        self.vocab = vocab
        rng = np.random.default_rng(7)
        self.table = rng.standard_normal((len(vocab) + 1, self.dim)).astype(np.float32)

    def encode_documents(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), np.float32)
        get = self.vocab.get
        for i, text in enumerate(texts):
            rows = [get(w, 0) for w in text.lower().split()]
            out[i] = self.table[rows].sum(axis=0)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def encode_query(self, text: str) -> np.ndarray:
        return self.real.encode_query(text)


def scifact():
    docs = [json.loads(line) for line in open(SCIFACT / "corpus.jsonl")]
    claims = [json.loads(line)["text"] for line in open(SCIFACT / "queries.jsonl")]
    return docs, claims


def generate(engine, n: int, docs: list[dict], seed: int = 1) -> None:
    """`n` synthetic papers inserted in batches of 20,000 (one revision each)."""
    from paperfeed.models import Paper

    rng = random.Random(seed)
    topic_words = [WORD.findall(d["text"]) for d in docs]
    title_words = [WORD.findall(d["title"]) or ["study"] for d in docs]
    counts = Counter(w for words in topic_words for w in words)
    common, weights = zip(*counts.most_common(20_000), strict=True)
    surnames = sorted({w.capitalize() for w in counts if len(w) > 4})[:30_000]
    start = datetime(2007, 4, 1, tzinfo=UTC)
    table = Paper.__table__
    for batch_start in range(0, n, 20_000):
        rows = []
        size = min(20_000, n - batch_start)
        fillers = rng.choices(common, weights=weights, k=size * 60)
        for i in range(size):
            num = batch_start + i
            t = rng.randrange(len(docs))
            words = topic_words[t] or ["result"]
            abstract = rng.choices(words, k=rng.randint(90, 150)) + fillers[i * 60 : i * 60 + rng.randint(20, 60)]
            rng.shuffle(abstract)
            title = rng.sample(title_words[t], min(len(title_words[t]), rng.randint(5, 10)))
            cats = rng.sample(CATEGORIES, rng.choice((1, 1, 2, 3)))
            published = start + timedelta(days=num * 6700 / n + rng.random())
            rows.append({
                "arxiv_id": f"{published:%y%m}.{num:07d}",
                "title": " ".join(title).capitalize(),
                "abstract": " ".join(abstract).capitalize() + ".",
                "authors": [f"{rng.choice(FIRST)} {rng.choice(surnames)}" for _ in range(rng.randint(1, 6))],
                "categories": cats,
                "primary_category": cats[0],
                "published": published,
                "updated": published,
                "versions": [],
                "sources": {},
                "content_hash": "synthetic",
                "revision": batch_start // 20_000 + 1,
            })
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
        print(f"  generated {batch_start + size:,}/{n:,}", file=sys.stderr, flush=True)


def make_queries(docs: list[dict], claims: list[str], n: int, seed: int = 2) -> list[str]:
    """Short topical queries, long claims, phrases, filters and authors, mixed."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d = rng.choice(docs)
        words = [w for w in WORD.findall(d["title"]) if len(w) > 3] or ["protein"]
        kind = i % 10
        if kind < 5:
            out.append(" ".join(rng.sample(words, min(len(words), rng.randint(2, 4)))))
        elif kind < 7:
            out.append(rng.choice(claims))
        elif kind == 7 and len(words) > 1:
            j = rng.randrange(len(words) - 1)
            out.append(f'"{words[j]} {words[j + 1]}"')
        elif kind == 8:
            out.append(f"{rng.choice(words)} cat:{rng.choice(CATEGORIES)} after:{rng.randint(2010, 2024)}")
        else:
            out.append(f"{rng.choice(words)} -{rng.choice(words)}")
    return out


def serve(args) -> None:
    """The serving process: open the index, answer every query in every mode, report."""
    from paperfeed import db
    from paperfeed.search import search
    from paperfeed.search.encoder import get_encoder

    engine = db.connect(args.db)
    encoder = get_encoder()
    queries = json.loads(Path(args.query_file).read_text())
    search(engine, "warm up", mode="hybrid", index_dir=args.index, encoder=encoder)
    result = {}
    from paperfeed import search as api

    for mode in ("keyword", "semantic", "hybrid"):
        api._vectors.clear()  # every mode pays for encoding its queries
        times, empty = [], 0
        for q in queries:
            t = time.perf_counter()
            page = search(engine, q, mode=mode, limit=10, index_dir=args.index, encoder=encoder)
            times.append(time.perf_counter() - t)
            empty += not page.hits
        ms = np.array(times) * 1000
        result[mode] = {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                        "mean": float(ms.mean()), "empty": empty}
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--workdir", type=Path, help="keep the database and index here (reused when present)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--query-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)

    from paperfeed import db
    from paperfeed.search import store, update_index
    from paperfeed.search.encoder import get_encoder

    tmp = None
    if args.workdir is None:
        tmp = tempfile.mkdtemp(prefix="pf-scale-")
        args.workdir = Path(tmp)
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PAPERFEED_DATA_DIR", str(args.workdir))  # ONNX export cache
    url = f"sqlite:///{args.workdir / 'scale.db'}"
    index_dir = args.workdir / "index"
    docs, claims = scifact()
    engine = db.connect(url)
    from sqlalchemy import text

    with engine.connect() as conn:
        have = conn.execute(text("select count(*) from papers")).scalar()
    if have < args.papers:
        t = time.perf_counter()
        generate(engine, args.papers - have, docs, seed=have + 1)
        print(f"generated {args.papers:,} papers in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    build_s = None
    if store.current_name(index_dir) is None:
        vocab: dict[str, int] = {}
        for d in docs:
            for w in (d["title"] + " " + d["text"]).lower().split():
                vocab.setdefault(w, len(vocab) + 1)
        encoder = SyntheticEncoder(get_encoder(), vocab)
        last = [time.monotonic()]

        def progress(phase: str, advance: int, total: int) -> None:
            if time.monotonic() - last[0] > 30:
                last[0] = time.monotonic()
                print(f"  {phase}: +{advance} of {total:,}", file=sys.stderr, flush=True)

        t = time.perf_counter()
        update_index(engine, index_dir=index_dir, encoder=encoder, chunk_size=20_000, progress=progress)
        build_s = time.perf_counter() - t
        print(f"indexed in {build_s:.0f}s", file=sys.stderr)
    gen_dir = index_dir / store.current_name(index_dir)
    sizes = {
        "keyword": du(gen_dir / "keyword"),
        "vectors": (gen_dir / "vectors.usearch").stat().st_size,
        "catalog+filters": sum(f.stat().st_size for f in gen_dir.iterdir() if f.is_file())
        - (gen_dir / "vectors.usearch").stat().st_size,
    }
    queries = make_queries(docs, claims, args.queries)
    qfile = args.workdir / "queries.json"
    qfile.write_text(json.dumps(queries))
    engine.dispose()
    out = subprocess.run(
        [sys.executable, __file__, "--serve", "--db", url, "--index", str(index_dir), "--query-file", str(qfile)],
        capture_output=True, text=True, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"papers: {args.papers:,}  queries: {len(queries):,}")
    for mode in ("keyword", "semantic", "hybrid"):
        r = result[mode]
        print(f"{mode:9} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  mean {r['mean']:7.2f} ms  empty {r['empty']}")
    print("index size: " + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in sizes.items()))
    print(f"scale_papers: {args.papers}")
    for mode in ("keyword", "semantic", "hybrid"):
        print(f"scale_{mode}_p50_ms: {result[mode]['p50']:.2f}")
        print(f"scale_{mode}_p99_ms: {result[mode]['p99']:.2f}")
    print(f"scale_serving_peak_rss_mb: {result['rss_mb']:.0f}")
    if build_s is not None:
        print(f"scale_index_build_s: {build_s:.0f}")
    print(f"scale_index_size_mb: {sum(sizes.values()) / 1e6:.0f}")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
