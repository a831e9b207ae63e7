"""
How much the digest's shortcuts cost in ranking: its For you against the exact ranking.

The digest ranks each linked reader's For you with `fit.DIGEST`: the window is
first narrowed to `shortlist` papers by embedding similarity to the profile's
prototypes (`Profile.prototypes`, k-means centres of a library of more than 32
papers), then scored exactly.  This compares, for a sample of the readers of a
`benchmarks/digest.py --linked N` data dir (libraries of 20-500 random older
papers: no topic to summarise, the hardest case for prototypes), the top 10
and top 30 of that ranking with those of the exact one (every paper of the
window scored), for several shortlist lengths, k-means rounds and seedings
(`--seeding uniform,kmeans++`: the shipped uniform draw of saved papers, or
k-means++, which this file implements to compare), with the time a profile and
a ranking take.

    python benchmarks/digest_shortlist.py --data-dir /tmp/digest/bench --readers 300

Prints `name: value` lines at the end (the shipped settings).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/paperfeed-bench-digest"))
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--shortlists", default="50,100,200")
    parser.add_argument("--rounds", default="0,1,2,6")
    parser.add_argument("--seeding", default="uniform",
                        help="k-means seeds: uniform (shipped, `profile.first_centres`), kmeans++, or both")
    args = parser.parse_args()
    os.environ["PAPERFEED_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("PAPERFEED_DATABASE_URL", None)

    import numpy as np
    from sqlalchemy import select
    from threadpoolctl import threadpool_limits

    from paperfeed import db
    from paperfeed.digest.compose import Composer
    from paperfeed.models import SavedPaper
    from paperfeed.recommend import fit, profile, ranking, source

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # benchmarks/digest.py's clock
    engine = db.connect()
    start = Composer(engine, now).personal_since("daily")
    shipped_rounds, shipped_seeding = profile.KMEANS_ROUNDS, profile.first_centres
    seedings = {"uniform": shipped_seeding, "kmeans++": kmeans_pp}
    with engine.connect() as conn, threadpool_limits(limits=1, user_api="blas"):
        window = source.window(conn, start)
        uids = sorted({u for (u,) in conn.execute(select(SavedPaper.user_id).distinct())})[: args.readers]
        exact_model = replace(fit.DIGEST, shortlist=len(window))
        profiles = source.profiles(conn, uids, window)
        exact = {u: [r.arxiv_id for r in ranking.rank(window, p, model=exact_model, limit=30)]
                 for u, p in profiles.items()}
        print(f"window: {len(window)} papers, {len(profiles)} readers, libraries of "
              f"{np.mean([len(p.saved_ids) for p in profiles.values()]):.0f} papers on average")
        print("| seeding | k-means rounds | shortlist | top-10 kept | top-30 kept | profile ms | ranking ms |")
        print("|---|---|---|---|---|---|---|")
        headline = {}
        runs = [(s, int(r)) for s in args.seeding.split(",") for r in args.rounds.split(",")]
        for seeding, rounds in runs:
            profile.KMEANS_ROUNDS, profile.first_centres = rounds, seedings[seeding]
            t = time.perf_counter()
            built = source.profiles(conn, uids, window)
            profile_ms = (time.perf_counter() - t) / len(built) * 1000
            for length in (int(s) for s in args.shortlists.split(",")):
                model = replace(fit.DIGEST, shortlist=length)
                t = time.perf_counter()
                pages = dict(zip(built, ranking.rank_many(window, built.values(), model=model, limit=30,
                                                          explain_now=False), strict=True))
                rank_ms = (time.perf_counter() - t) / len(built) * 1000
                kept10 = np.mean([len({r.arxiv_id for r in pages[u][:10]} & set(exact[u][:10])) / max(1, len(exact[u][:10]))
                                  for u in built])
                kept30 = np.mean([len({r.arxiv_id for r in pages[u]} & set(exact[u])) / max(1, len(exact[u]))
                                  for u in built])
                print(f"| {seeding} | {rounds} | {length} | {kept10:.3f} | {kept30:.3f} | {profile_ms:.2f} | {rank_ms:.2f} |")
                if rounds == shipped_rounds and length == fit.DIGEST.shortlist and seeding == "uniform":
                    headline = {"digest_shortlist_top10_kept": round(float(kept10), 3),
                                "digest_shortlist_top30_kept": round(float(kept30), 3)}
    for name, value in headline.items():
        print(f"{name}: {value}")


def kmeans_pp(vecs, k, rng):
    """k-means++ seeds (Arthur and Vassilvitskii 2007), drawn as `Generator.choice(p=...)` draws:
    each next seed with probability proportional to its squared distance from those chosen."""
    import numpy as np

    n = len(vecs)
    picks = [int(rng.integers(n))]
    closest = 1.0 - vecs @ vecs[picks[0]]
    for _ in range(1, k):
        p = np.maximum(closest, 0.0).astype(np.float64) ** 2
        cdf = np.cumsum(p)
        pick = min(int(np.searchsorted(cdf / cdf[-1], rng.random(), side="right")), n - 1) if cdf[-1] > 0 \
            else int(rng.integers(n))
        picks.append(pick)
        closest = np.minimum(closest, 1.0 - vecs @ vecs[pick])
    return np.asarray(picks)


if __name__ == "__main__":
    main()
