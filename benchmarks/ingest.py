"""
Ingest throughput and memory: generate a Kaggle-format snapshot of N records
and time `paperfeed ingest` on it, on SQLite and (when given) PostgreSQL.

Records are the real sample papers of ../shared/data (or the copy bundled in
paperfeed/data) under fresh ids, with their versions, authors and abstracts, so
parsing and storage costs are those of real data.  Each run is a separate
`paperfeed ingest` process into a fresh database; peak RSS is that process's.

Usage: python benchmarks/ingest.py [--records 1000000] [--postgres URL] [--keep]
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
import time
import uuid
from pathlib import Path

import orjson

SAMPLE = Path(__file__).resolve().parents[1] / "paperfeed" / "data" / "arxiv-kaggle-sample.jsonl"


def generate(path: Path, n: int) -> None:
    base = [orjson.loads(line) for line in SAMPLE.open("rb")]
    with path.open("wb") as f:
        for i in range(n):
            rec = dict(base[i % len(base)])
            month = 1 + (i // 99_999) % 12
            rec["id"] = f"{20 + (i // (99_999 * 12)) % 10:02d}{month:02d}.{i % 99_999 + 1:05d}"
            f.write(orjson.dumps(rec))
            f.write(b"\n")


def run(path: Path, env: dict, work: Path) -> tuple[float, float, str]:
    out, err = work / "stdout", work / "stderr"
    start = time.perf_counter()
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([sys.executable, "-m", "paperfeed.cli", "ingest", str(path)], env=env, stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, in KiB on Linux
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"ingest failed: {err.read_text()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, out.read_text().strip()


def postgres_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"pfbench_{uuid.uuid4().hex[:8]}"
    with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--postgres", default=os.environ.get("PAPERFEED_TEST_POSTGRES_URL", ""))
    ap.add_argument("--keep", action="store_true", help="keep the generated file and databases")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pf-ingest-bench-"))
    data = work / "snapshot.jsonl"
    t = time.perf_counter()
    generate(data, args.records)
    print(f"generated {args.records} records ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
    results = {}
    targets = [("sqlite", f"sqlite:///{work / 'bench.db'}")]
    if args.postgres:
        targets.append(("postgres", postgres_database(args.postgres)))
    for name, url in targets:
        env = dict(os.environ, PAPERFEED_DATA_DIR=str(work / name), PAPERFEED_DATABASE_URL=url)
        elapsed, peak_mb, line = run(data, env, work)
        print(f"{name}: {line} in {elapsed:.1f}s")
        results[name] = (args.records / elapsed, peak_mb)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    for name, (rate, peak) in results.items():
        print(f"{name}_records_per_s: {rate:.0f}")
        print(f"{name}_peak_rss_mb: {peak:.0f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
