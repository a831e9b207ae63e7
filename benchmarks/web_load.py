"""
Web load: throughput and p50/p99 latency of the daily page, a paper page, a
day page and the search API with 100,000 papers and 50 concurrent clients.

The database is SQLite, built by the product's own code: a Kaggle-format
snapshot generated from the real sample papers under fresh ids
(`benchmarks/ingest.py`'s `generate`), ingested with `ingest_sources`; daily
lists (50 papers a day for 30 days ending today), users and upvotes inserted
directly.  The search index (tantivy + HNSW) is built by `update_index` with an
encoder that embeds each distinct abstract once with the real MiniLM model and
adds a little noise per paper: the snapshot repeats the 200 sample abstracts,
so this gives real embeddings without 15 minutes of encoding.  The server
encodes queries with the real model (hybrid search, the API's mode), and the
queries are drawn at random from word pairs, so most miss its query cache.

`paperfeed serve` runs as a subprocess (the digest scheduler off) with 1 and
then 2 workers; `wrk` (50 connections, 2 threads) loads one endpoint at a time
after a short warm-up.  wrk runs on the same cores as the server.

    python benchmarks/web_load.py                         # 100,000 papers, ~6 min
    python benchmarks/web_load.py --papers 2000 --duration 3   # smoke test
    python benchmarks/web_load.py --keep                  # keep the database for later runs
    python benchmarks/web_load.py --data /tmp/pf-web-bench-XXXX --only daily --workers 2

`--data` reuses a kept benchmark directory (no build), so two versions of the
server can be compared on the same database: run it from each checkout, since
the server is started from the current directory (`python -m paperfeed.cli`).

Ends with `name: value` headline lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import SAMPLE, generate  # noqa: E402  (benchmarks/ingest.py)

DAYS, PER_DAY, USERS = 30, 50, 500
CONNECTIONS, THREADS = 50, 2
TARGET_P99_MS, TARGET_RPS = 100, 300
WORD = re.compile(r"[a-z]{5,}")
STOP = {"which", "these", "their", "there", "where", "about", "using", "based", "while", "between",
        "under", "other", "paper", "results", "present", "given", "show", "shows", "study", "first",
        "second", "three", "within", "through", "without", "however", "whose", "would", "could", "should"}


class MemoEncoder:
    """Real MiniLM embeddings of each distinct text (encoded once), plus per-paper noise."""

    def __init__(self, real, noise: float = 0.02) -> None:
        self.real, self.model_id, self.dim = real, real.model_id, real.dim
        self.cache: dict[str, np.ndarray] = {}
        self.noise = noise
        self.rng = np.random.default_rng(3)

    def encode_documents(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for text, vec in zip(missing, self.real.encode_documents(missing), strict=True):
                self.cache[text] = vec
        out = np.stack([self.cache[t] for t in texts]).astype(np.float32)
        out += self.rng.standard_normal(out.shape).astype(np.float32) * self.noise
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.real.encode_query(text)


def build(work: Path, papers: int, index: bool) -> dict:
    """The benchmark database and index; returns what the load needs (ids, days, words)."""
    from sqlalchemy import func, insert, select

    from paperfeed import db
    from paperfeed.ingest.run import ingest_sources
    from paperfeed.models import DailyEntry, Paper, User, Vote

    timings = {}
    snapshot = work / "snapshot.jsonl"
    t = time.perf_counter()
    generate(snapshot, papers)
    engine = db.connect()
    ingest_sources([str(snapshot)], engine=engine)
    timings["ingest_s"] = time.perf_counter() - t

    t = time.perf_counter()
    rng = random.Random(11)
    with engine.connect() as conn:
        ids = conn.execute(select(Paper.arxiv_id)).scalars().all()
    assert len(ids) == papers, f"ingested {len(ids)} of {papers} papers"
    now = datetime.now(UTC)
    today = now.date()
    days = [today - timedelta(days=d) for d in range(DAYS)]
    listed = rng.sample(ids, DAYS * PER_DAY)
    entries = [
        {"day": day, "arxiv_id": listed[d * PER_DAY + k], "curated": k % 5 == 0,
         "submitted_by_user": None, "submitted_by_name": f"hf-user-{rng.randrange(300)}",
         "imported_upvotes": rng.randrange(200), "pinned": k == 0, "hidden": False, "created_at": now}
        for d, day in enumerate(days) for k in range(PER_DAY)
    ]
    users = [{"id": i + 1, "username": f"reader{i}", "email": None, "password_hash": None,
              "role": "reader", "created_at": now} for i in range(USERS)]
    votes = {(rng.randrange(USERS) + 1, rng.choice(listed)) for _ in range(DAYS * PER_DAY * 15)}
    with engine.begin() as conn:
        conn.execute(insert(User), users)
        conn.execute(insert(DailyEntry), entries)
        conn.execute(insert(Vote), [{"user_id": u, "arxiv_id": a, "created_at": now} for u, a in votes])
        n_votes = conn.scalar(select(func.count()).select_from(Vote))
    timings["lists_s"] = time.perf_counter() - t

    if index:
        from paperfeed.search import update_index
        from paperfeed.search.encoder import get_encoder

        t = time.perf_counter()
        report = update_index(engine, encoder=MemoEncoder(get_encoder()), chunk_size=20_000)
        timings["index_s"] = time.perf_counter() - t
        assert report.complete and report.indexed == papers, report
    engine.dispose()
    snapshot.unlink()
    return {"ids": ids, "days": days, "words": sample_words(), "votes": n_votes, "timings": timings}


LUA = """
local paths = {%(paths)s}
local words = {%(words)s}
local mode = "%(mode)s"
local gap = %(gap)s
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter * 7919)
end

function init(args)
  math.randomseed(seed)
end

function request()
  local path
  if mode == "search" then
    path = "/api/papers/search?q=" .. words[math.random(#words)] .. "+" .. words[math.random(#words)]
  else
    path = paths[math.random(#paths)]
  end
  return wrk.format("GET", path)
end

if gap > 0 then
  function delay()
    return math.floor(-math.log(1 - math.random()) * gap)  -- exponential: Poisson arrivals per connection
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, '
    .. '"mean_us": %%f, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, "status": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def reuse(work: Path) -> dict:
    """What `build` returns, read back from a kept benchmark directory."""
    from sqlalchemy import distinct, func, select

    from paperfeed import db
    from paperfeed.models import DailyEntry, Paper, Vote

    engine = db.connect()
    with engine.connect() as conn:
        ids = conn.execute(select(Paper.arxiv_id)).scalars().all()
        days = conn.execute(select(distinct(DailyEntry.day)).order_by(DailyEntry.day.desc())).scalars().all()
        n_votes = conn.scalar(select(func.count()).select_from(Vote))
    engine.dispose()
    return {"ids": ids, "days": days, "words": sample_words(), "votes": n_votes, "timings": {}}


def sample_words() -> list[str]:
    """Frequent words of the sample papers: what the search load asks for."""
    records = [json.loads(line) for line in SAMPLE.open()]
    text = " ".join(f"{r.get('title') or ''} {r.get('abstract') or ''}" for r in records)
    counts: dict[str, int] = {}
    for w in WORD.findall(text.lower()):
        if w not in STOP:
            counts[w] = counts.get(w, 0) + 1
    return [w for w, c in sorted(counts.items(), key=lambda kv: -kv[1]) if c >= 2][:400]


def lua_list(items: list[str]) -> str:
    return ", ".join(json.dumps(i) for i in items)


def wrk(base: str, work: Path, name: str, paths: list[str], words: list[str], mode: str,
        duration: float, gap_ms: float = 0, server: int | None = None) -> dict:
    script = work / f"{name}.lua"
    script.write_text(LUA % {"paths": lua_list(paths), "words": lua_list(words), "mode": mode, "gap": gap_ms})
    cmd = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{duration:g}s", "--timeout", "10s",
           "-s", str(script), base]
    cpu = group_cpu_seconds(server) if server else 0.0
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = group_cpu_seconds(server) - cpu if server else float("nan")
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    secs = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"]
    return {"rps": r["requests"] / secs, "p50_ms": r["p50_us"] / 1e3, "p90_ms": r["p90_us"] / 1e3,
            "p99_ms": r["p99_us"] / 1e3, "max_ms": r["max_us"] / 1e3, "requests": r["requests"],
            "errors": errors, "non2xx": r["status"], "cpu_ms": 1000 * cpu / max(r["requests"], 1)}


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the processes of a process group: the server.

    Per request, this is what the server costs whatever else runs on the machine
    (throughput and latency here depend on wrk and on other load on the same cores)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state, ppid, pgrp, ...
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


METRICS_TOKEN = secrets.token_urlsafe(32)  # the servers this script starts require it on /metrics


def worker_requests(base: str) -> dict[str, float]:
    """Requests answered so far by each worker pid (the server's /metrics)."""
    scrape = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(scrape, timeout=30) as r:
        text = r.read().decode()
    found = re.findall(r'^paperfeed_worker_requests(?:\{pid="(\d+)"\})? ([0-9.e+]+)$', text, re.M)
    return {pid: float(n) for pid, n in found}


def split(before: dict[str, float], after: dict[str, float]) -> str:
    """How a run's requests spread over the workers, e.g. "52/48"."""
    done = sorted((after[p] - before.get(p, 0) for p in after), reverse=True)
    total = sum(done) or 1
    return "/".join(f"{100 * n / total:.0f}" for n in done)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "paperfeed.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("server did not start")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()  # uvicorn's supervisor stops its workers on SIGTERM
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def check(base: str, path: str) -> None:
    with urllib.request.urlopen(base + path, timeout=30) as r:
        body = r.read()
        assert r.status == 200 and body, (path, r.status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--duration", type=float, default=15, help="seconds of load per endpoint")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured load per endpoint")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts to try")
    ap.add_argument("--no-index", action="store_true", help="no search index (search uses its SQL fallback)")
    ap.add_argument("--keep", action="store_true", help="keep the database and logs")
    ap.add_argument("--data", type=Path, help="reuse this kept benchmark directory instead of building one")
    ap.add_argument("--only", default="", help="comma-separated endpoints to load (daily,day,paper,search,paced)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # so `finally` stops the server
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")

    work = args.data.resolve() if args.data else Path(tempfile.mkdtemp(prefix="pf-web-bench-"))
    data = work / "data"
    env = dict(os.environ, PAPERFEED_DATA_DIR=str(data), PAPERFEED_DATABASE_URL=f"sqlite:///{data / 'paperfeed.db'}",
               PAPERFEED_DIGEST_SCHEDULER="false", PAPERFEED_METRICS_TOKEN=METRICS_TOKEN)
    os.environ.update({k: env[k] for k in ("PAPERFEED_DATA_DIR", "PAPERFEED_DATABASE_URL")})
    t = time.perf_counter()
    built = reuse(work) if args.data else build(work, args.papers, index=not args.no_index)
    timings = " ".join(f"{k} {v:.1f}" for k, v in built["timings"].items())
    print(f"{'reused' if args.data else 'built'} {len(built['ids'])} papers, {len(built['days'])} days of "
          f"daily lists, {built['votes']} votes in {time.perf_counter() - t:.0f}s ({timings})", flush=True)
    only = set(filter(None, args.only.split(",")))

    rng = random.Random(5)
    days = built["days"]
    endpoints = [  # name, paths, lua mode
        ("daily", ["/"], "paths"),
        ("day", [f"/papers/date/{d.isoformat()}" for d in days[1:]], "paths"),
        ("paper", [f"/papers/{i}" for i in rng.sample(built["ids"], min(2000, len(built["ids"])))], "paths"),
        ("search", [], "search"),
    ]
    results: dict[tuple[int, str], dict] = {}
    for workers in [int(w) for w in args.workers.split(",")]:
        proc, base = start_server(env, workers, work / f"server-{workers}.log")
        try:
            for name, paths, mode in endpoints:
                if only and name not in only:
                    continue
                # a few requests one at a time first: a fresh worker's first searches, if
                # concurrent, race to load the encoder (ImportError, substring fallback)
                words = built["words"]
                for k in range(8 * workers):
                    check(base, paths[k % len(paths)] if paths else f"/api/papers/search?q={words[k]}+{words[-k - 1]}")
                if args.warmup:
                    wrk(base, work, name, paths, built["words"], mode, args.warmup)
                counts = worker_requests(base)
                r = results[(workers, name)] = wrk(base, work, name, paths, built["words"], mode, args.duration,
                                                   server=proc.pid)
                r["split"] = split(counts, worker_requests(base))
                print(f"workers={workers} {name:7s} {r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                      f"p90 {r['p90_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms  "
                      f"server cpu {r['cpu_ms']:5.2f} ms/req  workers' share {r['split']}  errors {r['errors']}  "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
            if only and "paced" not in only:
                continue
            # the target's own operating point: the daily page paced at ~TARGET_RPS (open-ish loop)
            gap = max(1000 * CONNECTIONS / TARGET_RPS - 5, 0)
            r = results[(workers, "daily@300")] = wrk(base, work, "paced", ["/"], [], "paths", args.duration, gap,
                                                      server=proc.pid)
            print(f"workers={workers} daily paced at ~{TARGET_RPS}/s: {r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                  f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}", flush=True)
        finally:
            stop_server(proc)

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores "
          f"(wrk -t{THREADS} -c{CONNECTIONS} on the same cores), load average now "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for (workers, name), r in results.items():
        key = f"{name.replace('@', '_at')}_w{workers}"
        print(f"{key}_rps: {r['rps']:.0f}")
        print(f"{key}_p50_ms: {r['p50_ms']:.1f}")
        print(f"{key}_p99_ms: {r['p99_ms']:.1f}")
        print(f"{key}_server_cpu_ms: {r['cpu_ms']:.2f}")
        print(f"{key}_errors: {r['errors']}")
    daily_runs = [w for w, n in results if n == "daily"]
    if daily_runs:
        best = max(daily_runs, key=lambda w: results[(w, "daily")]["rps"])
        d = results[(best, "daily")]
        print(f"daily_rps: {d['rps']:.0f}")
        print(f"daily_p99_ms: {d['p99_ms']:.1f}")
        print(f"daily_best_workers: {best}")
    met = any(results[(w, n)]["rps"] >= TARGET_RPS * 0.98 and results[(w, n)]["p99_ms"] <= TARGET_P99_MS
              for w, n in results if n in ("daily", "daily@300"))
    print(f"daily_target_met: {'yes' if met else 'no'} (p99 <= {TARGET_P99_MS} ms at >= {TARGET_RPS} req/s)")
    if args.keep or args.data:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
