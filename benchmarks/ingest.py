"""
Ingest throughput and memory: generate a Kaggle-format snapshot of N records
and time `paperfeed ingest` on it, on SQLite and (when given) PostgreSQL.

Records are the real sample papers of ../shared/data (or the copy bundled in
paperfeed/data) under fresh ids, with their versions, authors and abstracts, so
parsing and storage costs are those of real data.  Each run is a separate
`paperfeed ingest` process into a fresh database, run from this checkout (so a
copy of this script in another worktree benchmarks that worktree's code).

Reported per database: records/s (wall), CPU µs per record (user+system of the
ingest and its reader child, from `wait4`: steadier than wall time on a busy
machine), and peak memory: the largest single process (`wait4`) and the peak of
parent + reader together (sampled from /proc every 50 ms).

Usage: python benchmarks/ingest.py [--records 1000000] [--postgres URL] [--input FILE] [--keep]
Ends with `name: value` headline lines.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "paperfeed" / "data" / "arxiv-kaggle-sample.jsonl"


def generate(path: Path, n: int) -> None:
    base = [orjson.loads(line) for line in SAMPLE.open("rb")]
    with path.open("wb") as f:
        for i in range(n):
            rec = dict(base[i % len(base)])
            month = 1 + (i // 99_999) % 12
            rec["id"] = f"{20 + (i // (99_999 * 12)) % 10:02d}{month:02d}.{i % 99_999 + 1:05d}"
            f.write(orjson.dumps(rec))
            f.write(b"\n")


def _sample(pid: int, reader_cpu: dict) -> float:
    """Resident memory of `pid` and its children (the reader) in MB; notes each child's CPU seconds."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    for p in [str(pid), *children]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            if p != str(pid):
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                reader_cpu[p] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total / 1024


def run(path: Path, env: dict, work: Path) -> dict:
    out, err = work / "stdout", work / "stderr"
    start = time.perf_counter()
    with out.open("w") as o, err.open("w") as e:
        cmd = [sys.executable, "-m", "paperfeed.cli", "ingest", str(path)]
        proc = subprocess.Popen(cmd, env=env, stdout=o, stderr=e, cwd=ROOT)
        peak = [0.0]
        reader_cpu: dict = {}
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], _sample(proc.pid, reader_cpu))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # this child's own usage, plus that of its reaped children (the reader): CPU summed, RSS the max
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"ingest failed: {err.read_text()[-2000:]}")
    return {
        "wall": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_process_mb": usage.ru_maxrss / 1024,
        "peak_tree_mb": peak[0],
        "reader_cpu": sum(reader_cpu.values()),  # as last sampled: a slight undercount
        "line": out.read_text().strip(),
    }


def postgres_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"pfbench_{uuid.uuid4().hex[:8]}"
    with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="records to generate (default 1,000,000)")
    ap.add_argument("--postgres", default=os.environ.get("PAPERFEED_TEST_POSTGRES_URL", ""), help="also ingest into a new database on this server")
    ap.add_argument("--input", type=Path, help="ingest this Kaggle-format file instead of generating one")
    ap.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    ap.add_argument("--keep", action="store_true", help="keep the generated file and databases")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pf-ingest-bench-"))
    if args.input:
        data = args.input
        records = sum(1 for _ in data.open("rb"))
    else:
        data, records = work / "snapshot.jsonl", args.records
        t = time.perf_counter()
        generate(data, records)
        print(f"generated {records} records ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
    results = {}
    targets = [] if args.no_sqlite else [("sqlite", f"sqlite:///{work / 'bench.db'}")]
    if args.postgres:
        targets.append(("postgres", postgres_database(args.postgres)))
    for name, url in targets:
        env = dict(os.environ, PAPERFEED_DATA_DIR=str(work / name), PAPERFEED_DATABASE_URL=url)
        r = run(data, env, work)
        print(
            f"{name}: {r['line']} in {r['wall']:.1f}s, {r['cpu']:.1f} CPU-s"
            f" (reader ~{r['reader_cpu']:.1f}), load average {os.getloadavg()[0]:.2f}"
        )
        results[name] = r
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    for name, r in results.items():
        print(f"{name}_records_per_s: {records / r['wall']:.0f}")
        print(f"{name}_cpu_us_per_record: {r['cpu'] / records * 1e6:.1f}")
        print(f"{name}_peak_rss_mb: {r['peak_process_mb']:.0f}")
        print(f"{name}_peak_rss_with_reader_mb: {r['peak_tree_mb']:.0f}")
    if "sqlite" in results:  # the database file the sizing table in docs/operations.md scales
        size = sum(f.stat().st_size for f in work.glob("bench.db*"))
        print(f"sqlite_database_mb: {size / 1e6:.0f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
