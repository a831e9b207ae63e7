"""
Key terms: which way of choosing a paper's chips finds the paper again?

Two scorers over the same candidates (`paperfeed.search.key_terms.candidates`:
one- to three-word phrases of the title and abstract, not starting or ending
with a stop word):

- `tfidf`: the candidate's count in the paper (title twice) times its
  smoothed inverse document frequency over the corpus, longer phrases
  favoured as in C-value (Frantzi et al. 2000): `count * idf * (1 + log2 words)`;
- `embed`: KeyBERT-style, the cosine of the candidate's embedding with the
  paper's (the shipped encoder), then Maximal Marginal Relevance for
  diversity: what `paperfeed index` runs (`key_terms.extract`).

Each method's terms for every paper are then searched one at a time with the
real hybrid search over the real index of the corpus (`paperfeed.search.ids`,
the query a chip links to), and we count how often the paper is in the top 10
(`hit@10`, per term; `any@10`, papers with at least one term that finds them).
Twenty papers' terms are printed side by side for reading.

Corpora: `sample` (the bundled sample papers, `paperfeed/data`) or `scifact`
(BEIR SciFact's 5,183 abstracts under made-up arXiv ids), ingested into a fresh
SQLite database in --workdir and indexed there (kept for the next run).

    python benchmarks/key_terms.py --workdir /tmp/kt-sample
    python benchmarks/key_terms.py --workdir /tmp/kt-scifact --corpus scifact --papers 1000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
SHOWN = 20


def prepare(workdir: Path, corpus: str):
    """The workdir's database and index of `corpus` (built on first use)."""
    os.environ["PAPERFEED_DATA_DIR"] = str(workdir)
    os.environ["PAPERFEED_DATABASE_URL"] = ""
    from paperfeed import db
    from paperfeed.ingest.run import ingest_sources
    from paperfeed.ops.demo import sample_files
    from paperfeed.search import update_index

    workdir.mkdir(parents=True, exist_ok=True)
    engine = db.connect()
    if not (workdir / "corpus.done").exists():
        if corpus == "scifact":
            table = workdir / "scifact.jsonl"
            with open(SCIFACT / "corpus.jsonl") as src, open(table, "w") as out:
                for n, line in enumerate(src):
                    doc = json.loads(line)
                    out.write(json.dumps({"arxiv_id": f"2001.{n + 1:05d}", "title": doc.get("title"),
                                          "abstract": doc["text"], "categories": ["q-bio"]}) + "\n")
            sources = [str(table)]
        else:
            sources = [str(p) for p in sample_files()]
        summary = ingest_sources(sources, engine=engine)
        print(f"ingested: {summary.line()}", file=sys.stderr)
        (workdir / "corpus.done").write_text("")
    started = time.perf_counter()
    report = update_index(engine)
    print(f"index: {report.indexed} papers in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return engine


def papers_of(engine, limit: int | None) -> list[tuple[str, str | None, str]]:
    from sqlalchemy import select

    from paperfeed.models import Paper

    with engine.connect() as conn:
        rows = conn.execute(select(Paper.arxiv_id, Paper.title, Paper.abstract).order_by(Paper.arxiv_id)).all()
    return [(r.arxiv_id, r.title, r.abstract or "") for r in rows]


def tfidf_terms(papers, count: int) -> list[list[str]]:
    """Method `tfidf`: count * idf * (1 + log2 words), over the same candidates."""
    from paperfeed.search import key_terms

    per_paper = [key_terms.candidates(t, a)[: key_terms.MAX_CANDIDATES] for _, t, a in papers]
    df: dict[str, int] = {}
    for cands in per_paper:
        for c in cands:
            df[c.key] = df.get(c.key, 0) + 1
    n = len(papers)
    out = []
    for cands in per_paper:
        scored = sorted(
            cands,
            key=lambda c: -(c.count * (math.log((1 + n) / (1 + df[c.key])) + 1) * (1 + math.log2(len(c.key.split())))),
        )
        picked = key_terms._without_overlaps(scored[: count + 3])
        out.append([c.text for c in picked][:count])
    return out


def embed_terms(papers, count: int):
    from paperfeed.search import encoder as encoders
    from paperfeed.search import key_terms

    enc = encoders.get_encoder()
    vecs = enc.encode_documents([encoders.document_text(t, a) for _, t, a in papers])
    started = time.perf_counter()
    terms = key_terms.extract([(t, a) for _, t, a in papers], vecs, enc, count)
    return terms, time.perf_counter() - started


def hits(papers, terms: list[list[str]]) -> dict[str, float]:
    """hit@10 per term, any@10 per paper, with the real hybrid search."""
    from paperfeed import search

    found = total = anyhit = 0
    for (arxiv_id, _, _), chosen in zip(papers, terms, strict=True):
        got = [arxiv_id in search.ids(term, mode="hybrid", limit=10) for term in chosen]
        found += sum(got)
        total += len(got)
        anyhit += any(got)
    return {"hit@10": found / max(total, 1), "any@10": anyhit / max(len(papers), 1),
            "terms_per_paper": total / max(len(papers), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--corpus", choices=("sample", "scifact"), default="sample")
    ap.add_argument("--papers", type=int, default=None, help="evaluate the first N papers (all by default)")
    ap.add_argument("--count", type=int, default=5)
    args = ap.parse_args()
    engine = prepare(args.workdir, args.corpus)
    papers = papers_of(engine, None)
    started = time.perf_counter()
    tfidf = tfidf_terms(papers, args.count)
    tfidf_s = time.perf_counter() - started
    embed, embed_s = embed_terms(papers, args.count)
    step = max(1, len(papers) // SHOWN)
    evaluated = slice(0, args.papers)
    print(f"# {args.corpus}: {len(papers)} papers, {platform.node()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for i in range(0, len(papers), step)[:SHOWN]:
        arxiv_id, title, _ = papers[i]
        print(f"\n{arxiv_id} {title[:90] if title else ''}")
        print(f"  tfidf: {' | '.join(tfidf[i])}")
        print(f"  embed: {' | '.join(embed[i])}")
    results = {}
    for name, terms in (("tfidf", tfidf), ("embed", embed)):
        results[name] = hits(papers[evaluated], terms[evaluated])
    print()
    for name, r in results.items():
        for metric, value in r.items():
            print(f"{name}_{metric}: {value:.3f}")
    print(f"tfidf_ms_per_paper: {1000 * tfidf_s / len(papers):.2f}")
    print(f"embed_ms_per_paper: {1000 * embed_s / len(papers):.2f}")


if __name__ == "__main__":
    main()
