"""
The digest's For you floor (`paperfeed.digest.personal.MIN_FIT`) on BEIR SciFact.

A digest shows a handful of papers, so its For you section keeps only papers
whose library fit (the default model's mean pair similarity with the nearest
saved papers, `recommend.fit`) reaches a floor.  For every one-paper library
of `recommend_eval.py` (each paper of a topic with two or more, in turn) this
prints the fit of the topic's other papers against that of the ten best other
papers and of every 50th other paper, and the share each floor keeps.  Uses the
vectors `recommend_eval.py` caches in --workdir (encoded on first use).

    python benchmarks/foryou_floor.py --workdir /tmp/rec-work
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import recommend_eval as ev  # noqa: E402

from paperfeed.digest.personal import MIN_FIT  # noqa: E402
from paperfeed.recommend import fit  # noqa: E402

FLOORS = (0.2, 0.22, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rec-work"))
    from paperfeed import settings

    parser.add_argument("--variant", default=settings.get("foryou_variant").strip() or "onnx-int8/192",
                        help="the For-you vectors' variant (default: the shipped PAPERFEED_FORYOU_VARIANT)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus, topics = ev.load(ev.SCIFACT)
    vecs = ev.embeddings(args.workdir, corpus, args.variant)
    bench = ev.Bench(corpus, vecs, vecs)
    window = bench.windows["wide"]  # the term space For you uses (terms.FOR_YOU)
    every = fit.Model(shortlist=len(window))
    topic, best_other, other = [], [], []
    for _, library, targets in ev.cases(topics, "one"):
        scored = fit.score(window, bench.profile("wide", library), every)
        wanted = set(targets)
        fits = [(float(f), bench.ids[r] in wanted) for r, f in zip(scored.rows, scored.fit, strict=True)]
        topic += [f for f, hit in fits if hit]
        rest = [f for f, hit in fits if not hit]
        best_other += rest[:10]
        other += rest[::50]
    print(f"{len(topic)} topic papers, {len(best_other)} best other, {len(other)} other (every 50th)")
    for name, values in (("topic", topic), ("best 10 other", best_other), ("other", other)):
        pct = np.percentile(values, [5, 10, 25, 50, 75, 90, 95])
        print(f"{name:14} fit p5..p95: " + " ".join(f"{p:.3f}" for p in pct))
    print("floor  topic kept  best-10 other kept  other kept")
    for floor in FLOORS:
        print(f"{floor:5.2f}  {np.mean(np.array(topic) >= floor):10.3f}  {np.mean(np.array(best_other) >= floor):18.3f}"
              f"  {np.mean(np.array(other) >= floor):10.4f}")
    print(f"foryou_floor: {MIN_FIT}")
    print(f"foryou_floor_topic_kept: {np.mean(np.array(topic) >= MIN_FIT):.3f}")
    print(f"foryou_floor_other_kept: {np.mean(np.array(other) >= MIN_FIT):.4f}")


if __name__ == "__main__":
    main()
