"""
Digest composition at scale: compose (not send) the digests of 100,000
subscribers, each with 3 saved searches, over 1,000,000 papers.

    python benchmarks/digest.py                       # builds the data once, then measures
    python benchmarks/digest.py --papers 100000 --subscribers 10000   # a quick run

The corpus is synthetic (titles and abstracts drawn from a fixed vocabulary,
1,000 papers a day over the last 1,000 days, 100 upvoted daily entries a day
for trending) and bulk-inserted; every subscriber already had one digest (10
papers in their sent history, 1,000,000 rows at full size).  Subscribers are
spread over 24 hours and 8 time zones, 10% weekly, 30% with categories; their
saved searches come from a pool of `--queries` distinct queries with Zipf
popularity (a real deployment shares queries like this, or pays per distinct
query).

The search index is the real one (`paperfeed index`: tantivy + usearch HNSW,
384-dim int8 vectors under the default model's name) built over the whole
corpus; document vectors are made from the words (a sum of fixed random word
vectors) rather than encoded, because embedding 1M abstracts with MiniLM takes
hours on 2 CPU cores, while every saved query is encoded by the real default
encoder, as in production.  The measured run uses hybrid search, what
subscribers get (`--search-mode keyword` measures BM25 alone).

`--linked N` makes N of the subscribers readers with an account whose
verified address is theirs, a library of 20-500 papers (older than the
digest's window) and three followed authors, so their digests get "For you"
and "New from authors you follow" (`digest/personal.py`); the time spent on
those sections (their profiles, ranking, and the why-lines `personal.Why`
names while the digest takes its papers) is printed apart, per linked reader,
and projected to the issue's 20,000 linked readers.  A kept data dir indexed by an older paperfeed
is brought up to date first (`paperfeed index`: term rows).

The run is composed twice over the same data: once in this process, which is
where the personal sections' parts are timed, then as `digest send` composes it,
on `--workers` processes (default `PAPERFEED_DIGEST_WORKERS`: one per core,
`digest.parallel`), the headline `digest_compose_seconds`; both runs must give
the same digests' sizes.  `--parallel-only` runs only the second (the workers' wall
and CPU time, for A/B runs on a noisy machine); `--steps N` only times the personal sections'
parts (profiles, ranking, why-lines) for N linked readers, step by step in this process.

Data is kept in `--data-dir` and reused while the sizes match.  Prints
`name: value` lines at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOPICS = (
    "state space models sequence transformer attention diffusion graph neural network reinforcement learning "
    "policy gradient language model retrieval augmented generation protein folding molecule quantum circuit "
    "error correction optimization convex stochastic gradient federated privacy differential robustness "
    "adversarial vision segmentation detection contrastive representation self supervised speech recognition "
    "translation summarization reasoning chain thought mixture experts sparse pruning quantization distillation "
    "kernel gaussian process bayesian inference variational autoencoder normalizing flow causal discovery "
    "time series forecasting anomaly recommendation ranking search embedding clustering manifold topology "
    "galaxy cosmology dark matter black hole gravitational waves neutrino collider lattice qcd superconductivity "
    "topological insulator spin glass turbulence fluid climate weather epidemic network control robotics "
    "planning navigation multi agent game theory auction mechanism fairness interpretability benchmark dataset"
).split()
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "math.OC", "quant-ph", "astro-ph.CO",
              "hep-ph", "cond-mat.str-el", "physics.flu-dyn", "q-bio.BM", "cs.RO", "econ.TH", "math.PR"]
STEP_BATCH = 200  # readers a `--steps` batch reads together
STEP_LINES = 5  # For you papers a `--steps` reader's why-lines are named for (half a 10-paper digest)
ZONES = ["UTC", "Europe/Paris", "Europe/London", "America/New_York", "America/Los_Angeles",
         "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"]


class BenchEncoder:
    """Document vectors from words (the model's size and name), queries from the real model."""

    def __init__(self, real) -> None:
        self.real, self.model_id, self.dim = real, real.model_id, real.dim
        self.vocab = {w: i for i, w in enumerate(dict.fromkeys(vocabulary()))}
        self.table = np.random.default_rng(7).standard_normal((len(self.vocab) + 1, self.dim)).astype(np.float32)

    def encode_documents(self, texts, batch_size=64, progress=None):
        get = self.vocab.get
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            out[i] = self.table[[get(w.strip(".,"), len(self.vocab)) for w in text.lower().split()]].sum(axis=0)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def encode_query(self, text):
        return self.real.encode_query(text)


def bench_encoder() -> BenchEncoder:
    from paperfeed.search.encoder import get_encoder

    return BenchEncoder(get_encoder())


def vocabulary() -> list[str]:
    rng = random.Random(7)
    extra = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3)) for _ in range(3000)]
    return TOPICS + extra


def generate_papers(engine, n: int, now: datetime) -> None:
    words = vocabulary()
    weights = np.array([1.0 / (i + 1) ** 0.9 for i in range(len(words))])
    weights /= weights.sum()
    rng = np.random.default_rng(1)
    per_day = 1000
    raw = engine.raw_connection()
    cur = raw.cursor()
    sql = ("insert into papers (arxiv_id, version, versions, title, authors, abstract, primary_category, "
           "categories, published, updated, sources, content_hash, revision) "
           "values (?, 1, '[]', ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)")
    chunk = 50_000
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        title_words = rng.choice(len(words), size=(size, 8), p=weights)
        abstract_words = rng.choice(len(words), size=(size, 40), p=weights)
        cats = rng.integers(0, len(CATEGORIES), size=(size, 2))
        rows = []
        for j in range(size):
            i = start + j
            published = now - timedelta(days=(n - 1 - i) // per_day, seconds=int(rng.integers(0, 80000)))
            c1, c2 = CATEGORIES[cats[j, 0]], CATEGORIES[cats[j, 1]]
            cat_list = [c1] if c1 == c2 else [c1, c2]
            stamp = published.strftime("%Y-%m-%d %H:%M:%S.000000")
            rows.append((
                f"b{i:07d}", " ".join(words[w] for w in title_words[j]).capitalize(),
                json.dumps([f"Author {i % 9973}", f"Author {(i * 7) % 9973}"]),
                " ".join(words[w] for w in abstract_words[j]) + ".", c1, json.dumps(cat_list),
                stamp, stamp, f"{i:032x}", i,
            ))
        cur.executemany(sql, rows)
        raw.commit()
    cur.close()
    raw.close()


def generate_trending(engine, n_papers: int, now: datetime) -> None:
    from sqlalchemy import insert

    from paperfeed.models import DailyEntry

    rng = random.Random(3)
    rows = []
    for d in range(7):
        day = (now - timedelta(days=d)).date()
        newest = n_papers - 1 - d * 1000
        for k in range(100):
            rows.append({"day": day, "arxiv_id": f"b{newest - k * 7:07d}", "curated": True,
                         "imported_upvotes": rng.randint(0, 60), "pinned": False, "hidden": False, "created_at": now})
    with engine.begin() as conn:
        conn.execute(insert(DailyEntry.__table__), rows)


def generate_subscribers(engine, n: int, n_queries: int, n_papers: int, now: datetime) -> None:
    from sqlalchemy import insert

    from paperfeed.digest.schedule import latest_due
    from paperfeed.models import DigestSentPaper, Subscriber

    rng = random.Random(5)
    words = TOPICS
    queries = list(dict.fromkeys(" ".join(rng.sample(words, rng.choice((2, 2, 3)))) for _ in range(n_queries * 2)))[:n_queries]
    popularity = [1.0 / (i + 1) ** 0.8 for i in range(len(queries))]
    subs, sent = [], []
    for i in range(n):
        freq = "weekly" if rng.random() < 0.1 else "daily"
        hour, tz, weekday = rng.randrange(24), rng.choice(ZONES), rng.randrange(7)
        period, due_at = latest_due(freq, hour, weekday, tz, now - (timedelta(days=7) if freq == "weekly" else timedelta(days=1)))
        cats = rng.sample(CATEGORIES, rng.choice((1, 2))) if rng.random() < 0.3 else []
        subs.append({
            "email": f"reader{i:06d}@example.org", "status": "active", "frequency": freq, "hour": hour,
            "weekday": weekday, "timezone": tz, "categories": cats,
            "searches": list(dict.fromkeys(rng.choices(queries, popularity, k=3))), "max_papers": 10,
            "created_at": now - timedelta(days=30), "confirmed_at": now - timedelta(days=30),
            "last_period": period, "last_window_end": due_at, "failures": 0,
        })
        first = n_papers - 1 - rng.randrange(3000)
        sent.extend({"subscriber_id": i + 1, "arxiv_id": f"b{first - k * 3:07d}", "period": period} for k in range(10))
    with engine.begin() as conn:
        for s in range(0, len(subs), 10_000):
            conn.execute(insert(Subscriber.__table__), subs[s : s + 10_000])
        for s in range(0, len(sent), 100_000):
            conn.execute(insert(DigestSentPaper.__table__), sent[s : s + 100_000])


def generate_readers(engine, n_linked: int, n_subscribers: int, n_papers: int, now: datetime) -> None:
    """Accounts with verified addresses for the first `n_linked` subscribers, each with a library."""
    from sqlalchemy import insert

    from paperfeed.models import Follow, SavedPaper, User

    rng = np.random.default_rng(11)
    step = max(1, n_subscribers // max(n_linked, 1))
    older = n_papers - 15 * 1000  # saved papers predate the windows (1,000 papers a day)
    users, saved, follows = [], [], []
    for uid, sub in enumerate(range(0, n_subscribers, step)[:n_linked], start=1):
        users.append({"id": uid, "username": f"reader{sub:06d}", "email": f"reader{sub:06d}@example.org",
                      "role": "reader", "created_at": now - timedelta(days=60), "session_epoch": 0,
                      "email_verified_at": now - timedelta(days=30)})
        size = int(rng.integers(20, 501))
        for i in rng.choice(older, size=size, replace=False):
            saved.append({"user_id": uid, "arxiv_id": f"b{int(i):07d}", "note": "", "saved_at": now - timedelta(days=40)})
        for a in rng.choice(9973, size=3, replace=False):
            follows.append({"user_id": uid, "kind": "author", "key": f"author {int(a)}", "label": f"Author {int(a)}",
                            "created_at": now - timedelta(days=40)})
    with engine.begin() as conn:
        for table, rows in ((User, users), (SavedPaper, saved), (Follow, follows)):
            for s in range(0, len(rows), 50_000):
                conn.execute(insert(table.__table__), rows[s : s + 50_000])


def build(args, now: datetime) -> None:
    from paperfeed import db, search

    engine = db.connect()
    t = time.perf_counter()
    generate_papers(engine, args.papers, now)
    generate_trending(engine, args.papers, now)
    print(f"papers inserted in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    t = time.perf_counter()
    generate_subscribers(engine, args.subscribers, args.queries, args.papers, now)
    generate_readers(engine, args.linked, args.subscribers, args.papers, now)
    print(f"subscribers inserted in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    t = time.perf_counter()
    search.update_index(engine, encoder=bench_encoder(), chunk_size=50_000)
    print(f"search index built in {time.perf_counter() - t:.1f} s", file=sys.stderr)


def measure(args, now: datetime) -> dict:
    from paperfeed import db
    from paperfeed import search as search_pkg
    from paperfeed.digest import outbox, parallel, personal, render
    from paperfeed.digest.compose import Composer
    from paperfeed.recommend import source

    engine = db.connect()
    encoder = bench_encoder()
    spent = {"personal": 0.0, "profiles": 0.0, "ranking": 0.0, "why": 0.0, "readers": 0}

    def timed(fn, *names):
        def run(*a, **kw):
            t = time.perf_counter()
            try:
                out = fn(*a, **kw)
                spent["readers"] += len(out) if fn is readers else 0
                return out
            finally:
                for name in names:
                    spent[name] += time.perf_counter() - t
        return run

    # the personal sections' parts, timed where they are called
    readers = personal.Personal.readers
    personal.Personal.readers = timed(readers, "personal")
    source.profiles = timed(source.profiles, "profiles")
    personal.rank_readers = timed(personal.rank_readers, "ranking")
    # For you's why-lines, named as the digest takes papers: part of the personal sections' time
    personal.Why.lines = timed(personal.Why.lines, "why", "personal")

    def search_fn(engine_, text, mode, limit, after, before):
        # compose.search_ids, with the benchmark's encoder (its vectors match the index's)
        return search_pkg.ids(text, mode=mode, limit=limit, after=after, before=before, encoder=encoder)

    # warm the index (open files, page cache) outside the timing
    search_fn(engine, "warm up", args.search_mode, 1, None, None)
    composer = Composer(engine, now, search_mode=args.search_mode, search_fn=search_fn, full=False,
                        encode_fn=lambda texts: search_pkg.encode_queries(texts, encoder.real))
    t0 = time.perf_counter()
    due = nonempty = n_papers = 0
    sample = []
    search_seconds = 0.0
    for rows, dues in outbox.due_batches(engine, now, now.date()):
        before = composer.search_calls
        ts = time.perf_counter()
        digests = composer.compose(rows, dues)
        elapsed = time.perf_counter() - ts
        if composer.search_calls > before:
            search_seconds += elapsed  # upper bound: batches that ran new searches
        for d in digests:
            due += 1
            if not d.empty:
                nonempty += 1
                n_papers += len(d.arxiv_ids)
                if len(sample) < 1000:
                    sample.append(d)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    full = Composer(engine, now)  # rendering reads titles and abstracts, as `digest send` does
    full.load_papers(a for d in sample for a in d.arxiv_ids)
    for d in sample:
        render.digest_message(d, full.papers, "daily", "https://papers.example.org")
    render_ms = (time.perf_counter() - t1) / max(len(sample), 1) * 1000
    workers = args.workers or parallel.workers()
    parallel_total = 0.0
    if workers > 1:  # what `digest send` does: the same batches composed on worker processes
        on_workers = measure_parallel(args, now)
        parallel_total = on_workers["digest_compose_seconds"]
        assert (on_workers["digest_nonempty"], on_workers["digest_papers"]) == (nonempty, n_papers), \
            "the workers composed other digests"
    return {
        # the headline: the run as `digest send` composes it (PAPERFEED_DIGEST_WORKERS, one per core)
        "digest_compose_seconds": round(parallel_total if workers > 1 else total, 1),
        "digest_workers": workers,
        "digest_compose_one_process_seconds": round(total, 1),
        "digest_workers_speedup": round(total / parallel_total, 2) if workers > 1 else 1.0,
        "digest_linked_readers": spent["readers"],
        "digest_personal_seconds": round(spent["personal"], 1),
        "digest_personal_profile_seconds": round(spent["profiles"], 1),
        "digest_personal_rank_seconds": round(spent["ranking"], 1),
        "digest_personal_why_seconds": round(spent["why"], 1),
        "digest_personal_ms_per_reader": round(spent["personal"] / max(spent["readers"], 1) * 1000, 1),
        # the target has 20,000 linked readers among 100,000 subscribers (the same windows)
        "digest_personal_projected_20000_seconds": round(spent["personal"] / max(spent["readers"], 1) * 20_000),
        "digest_subscribers": due,
        "digest_nonempty": nonempty,
        "digest_papers_per_digest": round(n_papers / max(nonempty, 1), 2),
        "digest_subscribers_per_second": round(due / total),
        "digest_distinct_searches": composer.search_calls,
        "digest_trending_lists": len(composer._trending),
        "digest_render_ms_per_message": round(render_ms, 2),
        "digest_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def measure_parallel(args, now: datetime) -> dict:
    """The run composed as `digest send` does it, alone: wall time and the workers' CPU time."""
    from paperfeed import db
    from paperfeed.digest import outbox, parallel

    engine = db.connect()
    workers = args.workers or parallel.workers()
    t = time.perf_counter()
    digests = nonempty = n_papers = 0
    for _, batch in parallel.composed(engine, now, outbox.due_batches(engine, now, now.date()),
                                      search_mode=args.search_mode, processes=workers):
        digests += len(batch)
        nonempty += sum(not d.empty for d in batch)
        n_papers += sum(len(d.arxiv_ids) for d in batch)
    wall = time.perf_counter() - t
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "digest_compose_seconds": round(wall, 1),
        "digest_workers": workers,
        "digest_workers_cpu_seconds": round(children.ru_utime + children.ru_stime, 1),
        "digest_subscribers": digests,
        "digest_nonempty": nonempty,
        "digest_papers": n_papers,
    }


def measure_steps(args, now: datetime) -> dict:
    """The personal sections' parts for `--steps` linked readers, 200 at a time in this process with
    a worker's memory and collector settings: ms a reader for their profiles (`source.profiles`),
    ranking (`personal.rank_readers`) and the why-lines of their first `STEP_LINES` For you papers."""
    from sqlalchemy import select
    from threadpoolctl import threadpool_limits

    from paperfeed import db
    from paperfeed.digest import compose, parallel, personal
    from paperfeed.models import SavedPaper
    from paperfeed.recommend import source

    parallel.keep_freed_memory()
    parallel.collect_less()
    engine = db.connect()
    saved = SavedPaper.__table__
    with engine.connect() as conn:
        uids = [u for (u,) in conn.execute(select(saved.c.user_id).distinct().order_by(saved.c.user_id)
                                           .limit(args.steps + STEP_BATCH))]
        # the daily readers' window, as the digest builds it (`Composer.personal_since`: a day and
        # `compose.ANNOUNCE_LAG`, ~4,000 papers here)
        start = compose.Composer(engine, now, personal=False).personal_since("daily")
        win = source.window(conn, start, personal.hour_after(now))
    spent = {"profiles": 0.0, "ranking": 0.0, "why": 0.0}
    readers = 0
    with threadpool_limits(limits=1, user_api="blas"), engine.connect() as conn:
        source.profiles(conn, uids[:STEP_BATCH], win)  # the first batch warms the catalogue: not timed
        for i in range(STEP_BATCH, len(uids), STEP_BATCH):
            batch = uids[i : i + STEP_BATCH]
            readers += len(batch)
            t = time.perf_counter()
            profiles = {u: p for u, p in source.profiles(conn, batch, win).items() if not p.empty}
            t1 = time.perf_counter()
            ranked = personal.rank_readers(win, profiles)
            t2 = time.perf_counter()
            about = personal.About(engine)  # every reader's Why first, as `Personal._ranked` makes them
            whys = [personal.Why(about, win, profile, scored, personal.fitting(scored, 3 * STEP_LINES))
                    for profile, scored in ranked.values()]
            for why in whys:
                for arxiv_id in list(why.at)[:STEP_LINES]:
                    why.lines(arxiv_id)
            t3 = time.perf_counter()
            for name, seconds in (("profiles", t1 - t), ("ranking", t2 - t1), ("why", t3 - t2)):
                spent[name] += seconds
    return {"digest_steps_readers": readers, "digest_steps_window_papers": len(win)} | {
        f"digest_steps_{name}_ms_per_reader": round(seconds / max(readers, 1) * 1000, 3)
        for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000, help="distinct saved queries in the pool")
    parser.add_argument("--linked", type=int, default=0, help="subscribers linked to an account with a library")
    parser.add_argument("--search-mode", choices=["keyword", "hybrid"], default="hybrid")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes for the measured run (default: PAPERFEED_DIGEST_WORKERS, one per core)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/paperfeed-bench-digest"))
    parser.add_argument("--parallel-only", action="store_true",
                        help="measure only the run composed on worker processes")
    parser.add_argument("--steps", type=int, default=0, metavar="N",
                        help="measure only the personal sections' parts for N linked readers, one step at a time")
    args = parser.parse_args()

    # a fixed clock: the corpus is dated relative to it, so a kept data dir stays valid
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    os.environ["PAPERFEED_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("PAPERFEED_DATABASE_URL", None)
    marker = args.data_dir / "bench-digest.json"
    sizes = {"papers": args.papers, "subscribers": args.subscribers, "queries": args.queries, "linked": args.linked,
             "v": 3}
    if not marker.exists() or json.loads(marker.read_text()) != sizes:
        if args.data_dir.exists():
            import shutil

            shutil.rmtree(args.data_dir)
        args.data_dir.mkdir(parents=True)
        build(args, now)
        marker.write_text(json.dumps(sizes))
    else:  # a data dir indexed by an older paperfeed: the update gives it what it lacks (term rows)
        from paperfeed import db, search

        t = time.perf_counter()
        report = search.update_index(db.connect(), encoder=bench_encoder(), chunk_size=50_000)
        if report.generation and report.seconds > 1:
            print(f"search index updated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if args.steps:
        results = measure_steps(args, now)
    else:
        results = measure_parallel(args, now) if args.parallel_only else measure(args, now)
    print(f"corpus: {args.papers} papers, {args.subscribers} subscribers ({args.linked} linked to a library), "
          f"{args.queries} distinct queries, search mode {args.search_mode}")
    for name, value in results.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
