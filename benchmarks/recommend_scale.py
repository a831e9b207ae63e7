"""
"For you" at scale: a million papers, windows of a day, a week and a month.

Papers are synthetic.  Each takes one BEIR SciFact abstract as its topic: its
text mixes that abstract's words with words drawn by corpus frequency (as
benchmarks/search_scale.py does), and its vector is the topic's vector plus
noise, stored as the search index stores every paper (`search.vectors.Matrix`:
int8 rows, a scale per row, memory-mapped), 1,000,000 rows.  The newest
papers form the windows: a day (3,000), a week (20,000) and a month (80,000).
A reader has 500 saved papers on 12 topics, 20 dismissals, 20 followed
authors and 3 followed categories.

A separate server process (a minimal HTTP server calling the recommend API:
the real "For you" endpoint does not exist yet) builds each window once
(vectors read from the matrix; tf-idf rows, as an index would store them,
made from the texts on the first run and kept in --workdir) and the reader's
profile once (it is cached per reader), and answers `GET /?window=week`
with a page of 25 recommendations and their why-lines as JSON; the client
times each request.  `--digest` then times 20,000 readers with libraries of
20-500 papers against the day's window, as the digest runs them
(`recommend.rank_many`), and a sample of them one at a time (`recommend.rank`).

    python benchmarks/recommend_scale.py                     # 1,000,000 papers
    python benchmarks/recommend_scale.py --papers 100000 --readers 2000   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

# One BLAS thread: on 2 busy cores OpenBLAS's threads made a reader's scoring 2-3x
# slower (14 vs 35 ms at a 500-paper shortlist), as search/vectors.py found for scans.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paperfeed import recommend  # noqa: E402
from paperfeed.recommend import fit, terms  # noqa: E402

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
WINDOWS = {"day": 3_000, "week": 20_000, "month": 80_000}
CATEGORIES = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "cs.CR", "cs.IR", "q-bio.NC", "q-bio.BM",
              "math.OC", "physics.bio-ph", "eess.IV", "quant-ph", "econ.EM", "cs.HC"]
WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")
DIM = 384
PAGE = 25


class Corpus:
    """Deterministic synthetic papers: paper i's topic, text, authors and categories from i alone."""

    def __init__(self, n: int, workdir: Path) -> None:
        docs = [json.loads(line) for line in open(SCIFACT / "corpus.jsonl")]
        self.n = n
        self.topic_words = [WORD.findall(d["title"] + " " + d["text"]) or ["result"] for d in docs]
        counts = Counter(w for words in self.topic_words for w in words)
        self.common, self.weights = zip(*counts.most_common(20_000), strict=True)
        self.surnames = sorted({w.capitalize() for w in counts if len(w) > 4})[:20_000]
        rng = np.random.default_rng(1)
        self.topic_of = rng.integers(0, len(docs), n)
        self.centres = rng.standard_normal((len(docs), DIM)).astype(np.float32)
        self.matrix = matrix(workdir, self)

    def text(self, i: int) -> str:
        rng = random.Random(i)
        words = self.topic_words[self.topic_of[i]]
        body = rng.choices(words, k=rng.randint(90, 150)) + rng.choices(self.common, self.weights, k=40)
        rng.shuffle(body)
        return " ".join(body)

    def authors(self, i: int) -> list[str]:
        rng = random.Random(-i - 1)
        return [f"{rng.choice('ABCDEFGHJKLMNPRSTW')}. {rng.choice(self.surnames)}" for _ in range(rng.randint(1, 6))]

    def categories(self, i: int) -> list[str]:
        rng = random.Random(i * 7 + 3)
        return rng.sample(CATEGORIES, rng.choice((1, 1, 2, 3)))

    def upvotes(self, i: int) -> int:
        return int(random.Random(i * 11 + 5).paretovariate(1.2)) - 1


def matrix(workdir: Path, corpus: Corpus):
    """The vector matrix of every paper, as the search index keeps it (made once, then mapped)."""
    from paperfeed.search import vectors

    folder = workdir / f"matrix-{corpus.n}"
    if not (folder / vectors.Matrix.ROWS).exists():
        folder.mkdir(parents=True, exist_ok=True)
        rows = np.lib.format.open_memmap(folder / "rows.tmp.npy", mode="w+", dtype=np.int8, shape=(corpus.n, DIM))
        scales = np.lib.format.open_memmap(folder / "scales.tmp.npy", mode="w+", dtype=np.float32, shape=(corpus.n,))
        for start in range(0, corpus.n, 50_000):
            stop = min(corpus.n, start + 50_000)
            noise = np.random.default_rng(start).standard_normal((stop - start, DIM)).astype(np.float32)
            vecs = corpus.centres[corpus.topic_of[start:stop]] + 0.9 * noise
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            rows[start:stop], scales[start:stop] = vectors.quantise(vecs)
        rows.flush(), scales.flush()
        del rows, scales
        os.replace(folder / "rows.tmp.npy", folder / vectors.Matrix.ROWS)
        os.replace(folder / "scales.tmp.npy", folder / vectors.Matrix.SCALES)
    return vectors.Matrix.open(folder)


def window_rows(corpus: Corpus, name: str) -> np.ndarray:
    """The newest papers: the last rows of the catalogue."""
    return np.arange(corpus.n - WINDOWS[name], corpus.n)


def term_space(corpus: Corpus, workdir: Path):
    """The tf-idf vocabulary, fitted once on 20,000 papers and kept in the workdir."""
    import pickle

    path = workdir / f"space-{corpus.n}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    space = recommend.TermSpace.fit([corpus.text(i) for i in range(0, corpus.n, max(1, corpus.n // 20_000))],
                                    **terms.FOR_YOU)
    path.write_bytes(pickle.dumps(space))
    return space


def term_rows(corpus: Corpus, rows: np.ndarray, space, workdir: Path):
    """tf-idf rows of these papers: what the index would store (made once, kept in the workdir)."""
    from scipy import sparse

    path = workdir / f"terms-{corpus.n}-{rows[0]}-{len(rows)}.npz"
    if path.exists():
        return sparse.load_npz(path).tocsr()
    x = space.rows([corpus.text(int(r)) for r in rows])
    sparse.save_npz(path, x)
    return x


def build_window(corpus: Corpus, rows: np.ndarray, space, workdir: Path) -> recommend.Window:
    return recommend.Window.build(
        [f"p{r}" for r in rows], corpus.matrix.get(rows),
        terms=term_rows(corpus, rows, space, workdir), space=space,
        authors=[corpus.authors(int(r)) for r in rows], categories=[corpus.categories(int(r)) for r in rows],
        upvotes=[corpus.upvotes(int(r)) for r in rows],
    )


def library(corpus: Corpus, size: int, seed: int, topics: int = 12) -> np.ndarray:
    """`size` older papers on a few topics (the reader's interests), each topic a run of similar papers."""
    rng = np.random.default_rng(seed)
    older = corpus.n - WINDOWS["month"]
    chosen_topics = rng.choice(corpus.topic_of[:older], size=topics, replace=False)
    pool = np.flatnonzero(np.isin(corpus.topic_of[:older], chosen_topics))
    return np.sort(rng.choice(pool, size=min(size, len(pool)), replace=False))


def build_profile(corpus: Corpus, space, size: int, seed: int, follows: bool = True) -> recommend.Profile:
    saved = library(corpus, size, seed)
    rng = np.random.default_rng(seed + 1)
    dismissed = rng.integers(corpus.n - WINDOWS["month"], corpus.n, 20)
    newest = window_rows(corpus, "week")
    return recommend.Profile.build(
        [f"p{r}" for r in saved], corpus.matrix.get(saved),
        saved_terms=space.rows([corpus.text(int(r)) for r in saved]),
        saved_titles=[f"Saved paper {r}" for r in saved],
        dismissed_ids=[f"p{r}" for r in dismissed], dismissed_vectors=corpus.matrix.get(dismissed),
        dismissed_terms=space.rows([corpus.text(int(r)) for r in dismissed]),
        authors=[a for r in rng.choice(newest, 20) for a in corpus.authors(int(r))[:1]] if follows else (),
        categories=["cs.CL", "q-bio", "stat.ML"] if follows else (),
        seed=seed,
    )


def serve(args) -> None:
    t = time.perf_counter()
    corpus = Corpus(args.papers, args.workdir)
    space = term_space(corpus, args.workdir)
    fit_s = time.perf_counter() - t
    windows, build_s = {}, {}
    for name in WINDOWS:
        t = time.perf_counter()
        windows[name] = build_window(corpus, window_rows(corpus, name), space, args.workdir)
        build_s[name] = time.perf_counter() - t
    t = time.perf_counter()
    profile = build_profile(corpus, space, 500, seed=3)
    profile_s = time.perf_counter() - t
    ready = {"term_space_s": fit_s, "window_build_s": build_s, "profile_500_s": profile_s,
             "rss_mb": rss_mb()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            q = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
            if "ready" in q:
                body = json.dumps(ready).encode()
            else:
                recs = recommend.rank(windows[q.get("window", "week")], profile, limit=PAGE,
                                      hidden_gems=q.get("gems") == "1")
                body = json.dumps([{"id": r.arxiv_id, "score": r.score, "why": r.why()} for r in recs]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", args.port), Handler)
    print("ready", flush=True)
    server.serve_forever()


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def get(port: int, query: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?{query}", timeout=120) as r:
        return json.loads(r.read())


def client(args) -> None:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(args.port), "--papers",
                             str(args.papers), "--workdir", str(args.workdir)], stdout=subprocess.PIPE, text=True)
    try:
        t = time.perf_counter()
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("the server did not start")
        ready = get(args.port, "ready=1")
        print(f"server ready in {time.perf_counter() - t:.0f}s: {json.dumps(ready)}")
        print(f"load average before: {os.getloadavg()}")
        print(f"{'window':6} {'papers':>7} {'p50 ms':>7} {'p95 ms':>7}  (page of {PAGE}, why-lines, 500 saved)")
        results = {}
        for name in WINDOWS:
            for q in (f"window={name}", f"window={name}&gems=1"):
                get(args.port, q)  # warm
                ms = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    page = get(args.port, q)
                    ms.append((time.perf_counter() - t) * 1000)
                label = name + (" gems" if "gems" in q else "")
                results[label] = (np.percentile(ms, 50), np.percentile(ms, 95))
                print(f"{label:11} {WINDOWS[name]:>7} {results[label][0]:7.1f} {results[label][1]:7.1f}")
        print("example:", json.dumps(page[0])[:400])
        print(f"load average after: {os.getloadavg()}")
        print(f"recommend_week_p95_ms: {results['week'][1]:.1f}")
    finally:
        proc.terminate()
        proc.wait()


def digest(args) -> None:
    """20,000 readers (libraries of 20-500 papers) ranked against one day's window, one process."""
    corpus = Corpus(args.papers, args.workdir)
    space = term_space(corpus, args.workdir)
    t = time.perf_counter()
    window = build_window(corpus, window_rows(corpus, "day"), space, args.workdir)
    window_s = time.perf_counter() - t
    rng = np.random.default_rng(9)
    sizes = rng.integers(20, 501, args.readers)
    # Profiles are cached per reader; building 20,000 here would time text generation, not ranking.
    # A pool of distinct profiles is built once and the readers cycle through it.
    pool = [build_profile(corpus, space, int(s), seed=100 + i) for i, s in enumerate(sizes[: args.profiles])]
    model = fit.Model(shortlist=args.shortlist)
    readers = (pool[i % len(pool)] for i in range(args.readers))
    t = time.perf_counter()
    pages = sum(1 for _ in recommend.rank_many(window, readers, model=model, limit=10))
    rank_s = time.perf_counter() - t
    # one reader at a time (`rank`), on a sample, for comparison and to check the pages are the same
    sample = min(args.readers, args.compare)
    t = time.perf_counter()
    alone = [recommend.rank(window, pool[i % len(pool)], model=model, limit=10) for i in range(sample)]
    alone_s = time.perf_counter() - t
    batched = recommend.rank_many(window, (pool[i % len(pool)] for i in range(sample)), model=model, limit=10)
    same = all([(r.arxiv_id, r.why()) for r in a] == [(r.arxiv_id, r.why()) for r in b]
               for a, b in zip(alone, batched, strict=True))
    prof = pool[0]
    t = time.perf_counter()
    for p in pool[:50]:
        recommend.Profile.build(p.saved_ids, p.vectors, saved_terms=p.terms, dismissed_ids=p.dismissed_ids,
                                dismissed_vectors=p.dismissed_vectors, authors=p.authors, categories=p.categories)
    rebuild_ms = (time.perf_counter() - t) / 50 * 1000
    mean_lib = float(np.mean([len(p.saved_ids) for p in pool]))
    print(f"digest: day window of {len(window)} built in {window_s:.1f}s; {pages} readers "
          f"({len(pool)} distinct profiles, mean library {mean_lib:.0f}, shortlist {args.shortlist}) "
          f"ranked with rank_many in {rank_s:.1f}s ({rank_s / args.readers * 1000:.2f} ms a reader); "
          f"one at a time with rank: {alone_s / sample * 1000:.2f} ms a reader ({sample} readers), "
          f"pages the same: {same}; "
          f"profile rebuild from cached rows {rebuild_ms:.2f} ms; library of {len(prof.saved_ids)} first")
    print(f"load average: {os.getloadavg()}")
    print(f"recommend_digest_20000_readers_s: {rank_s / args.readers * 20_000:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/recommend-scale"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--profiles", type=int, default=100, help="distinct reader profiles the digest cycles")
    parser.add_argument("--compare", type=int, default=2_000, help="digest readers also ranked one at a time")
    parser.add_argument("--shortlist", type=int, default=fit.DIGEST.shortlist, help="digest shortlist per reader")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--digest", action="store_true", help="time the digest's readers instead of the page")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.serve:
        serve(args)
    elif args.digest:
        digest(args)
    else:
        client(args)


if __name__ == "__main__":
    main()
