"""
What the For-you pass adds to `paperfeed index`: abstracts a second embedded.

`paperfeed index` embeds each paper with the search encoder and, unless
`PAPERFEED_FORYOU_VARIANT` is empty, a second time with the For-you encoder
(`paperfeed.search.encoder.foryou_encoder`).  This times both on one sample of
BEIR SciFact abstracts (title + abstract, as the indexer embeds them) in this
process, round-robin, best of `--rounds` (the least disturbed round on a shared
machine), and prints docs/s of each and the index's embedding time with the
pass relative to without it.

    python benchmarks/foryou_pass.py --data-dir /tmp/enc/data
    python benchmarks/foryou_pass.py --variants onnx/128,onnx-int8/128
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=512, help="abstracts in the sample")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="", help="For-you variants to time (default: the shipped one)")
    parser.add_argument("--data-dir", help="where ONNX exports are cached (default: a fresh temporary directory)")
    args = parser.parse_args()
    os.environ["PAPERFEED_DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="foryou-pass-")
    from paperfeed import settings
    from paperfeed.search import encoder as enc

    corpus = [json.loads(line) for line in open(SCIFACT / "corpus.jsonl")]
    texts = [enc.document_text(d.get("title"), d["text"]) for d in corpus][:: max(1, len(corpus) // args.docs)]
    texts = texts[: args.docs]
    search = enc.get_encoder()
    chosen = [v.strip() for v in (args.variants or settings.get("foryou_variant")).split(",") if v.strip()]
    encoders = {search.model_id: search} | {e.model_id: e for v in chosen if (e := search.twin(enc.Variant.parse(v)))}
    best = dict.fromkeys(encoders, 0.0)
    for e in encoders.values():  # warm-up
        e.encode_documents(texts[:64])
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, e in encoders.items():
            t = time.perf_counter()
            e.encode_documents(texts)
            best[name] = max(best[name], len(texts) / (time.perf_counter() - t))
    print(f"{len(texts)} SciFact abstracts, best of {args.rounds} rounds, {len(os.sched_getaffinity(0))} cores, "
          f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    for name, rate in best.items():
        print(f"  {name:40s} {rate:7.1f} docs/s")
    base = best[search.model_id]
    for name, rate in best.items():
        if name != search.model_id:
            tag = name.rsplit("/", 2)[1] + "_" + name.rsplit("/", 1)[1]
            print(f"foryou_pass_{tag}_docs_per_s: {rate:.1f}")
            print(f"foryou_pass_{tag}_index_time_ratio: {1 + base / rate:.2f}")
    print(f"search_pass_docs_per_s: {base:.1f}")


if __name__ == "__main__":
    main()
