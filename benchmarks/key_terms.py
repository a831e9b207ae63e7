"""
Key terms: which way of choosing a paper's chips finds the paper again?

Two scorers over the same candidates (`paperfeed.search.key_terms.candidates`:
one- to three-word phrases of the title and abstract without stop words):

- `tfidf`: what `paperfeed index` runs (`key_terms.extract`): count (title
  twice) times the smoothed idf of the phrase's rarest word in the real keyword
  index, longer phrases favoured as in C-value (`1 + log2 words`), taken
  greedily so no two terms share a word;
- `embed`: KeyBERT-style, the cosine of the candidate's embedding (the shipped
  encoder) with the paper's vector, the best 20, then Maximal Marginal
  Relevance (diversity 0.5); a term inside another chosen one is dropped.

Each method's terms are then searched one at a time with the real hybrid
search over the real index of the corpus (`paperfeed.search.ids`, the query a
chip links to): `hit@10` (the paper is in the top 10) and `mrr@10` per term,
`any@10` per paper (some term finds it).  Twenty papers' terms are printed
side by side for reading, and the cost of each method per paper (for `embed`,
also against embedding the papers themselves: what it would add to
`paperfeed index`).

Corpora: `sample` (the bundled sample papers, `paperfeed/data`) or `scifact`
(BEIR SciFact's 5,183 abstracts under made-up arXiv ids), ingested into a fresh
SQLite database in --workdir and indexed there once (kept for the next run).

    python benchmarks/key_terms.py --workdir /tmp/kt-sample
    python benchmarks/key_terms.py --workdir /tmp/kt-scifact --corpus scifact --papers 300
    python benchmarks/key_terms.py --workdir /tmp/kt-scifact --corpus scifact --papers 300 --methods tfidf
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
SHOWN = 20
POOL = 20  # embed: the best candidates MMR chooses from (KeyBERT's default nr_candidates)
DIVERSITY = 0.5  # embed: MMR's trade-off, 0 relevance only, 1 novelty only


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
    if not (workdir / "index" / "CURRENT").exists():  # built once; the methods below use it as it is
        started = time.perf_counter()
        report = update_index(engine)
        print(f"index: {report.indexed} papers in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return engine


def papers_of(engine) -> list[tuple[str, str | None, str]]:
    from sqlalchemy import select

    from paperfeed.models import Paper

    with engine.connect() as conn:
        rows = conn.execute(select(Paper.arxiv_id, Paper.title, Paper.abstract).order_by(Paper.arxiv_id)).all()
    return [(r.arxiv_id, r.title, r.abstract or "") for r in rows]


def tfidf_terms(papers, count: int) -> list[list[str]]:
    """Method `tfidf`, what `paperfeed index` runs (`key_terms.extract`), with document
    frequencies from the real keyword index."""
    from paperfeed.search import key_terms, keyword, store

    word_df, docs = keyword.word_frequency(store.current().keyword)
    return key_terms.extract([(t, a) for _, t, a in papers], word_df, docs, count)


def mmr(doc: np.ndarray, cands: np.ndarray, count: int, diversity: float = DIVERSITY) -> list[int]:
    """Rows of `cands` (unit vectors) chosen by Maximal Marginal Relevance to `doc`."""
    relevance = cands @ doc
    chosen = [int(np.argmax(relevance))]
    pairwise = cands @ cands.T
    while len(chosen) < min(count, len(cands)):
        score = (1 - diversity) * relevance - diversity * pairwise[:, chosen].max(axis=1)
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


def embed_terms(papers, count: int) -> tuple[list[list[str]], float, float]:
    """Method `embed`: KeyBERT's cosine of each candidate's embedding (the shipped
    encoder) with the paper's vector (from the index), the best `POOL`, then MMR;
    a term inside another chosen one is dropped.  Also the seconds spent embedding
    the candidates, and what embedding the papers themselves costs."""
    from paperfeed.search import encoder as encoders
    from paperfeed.search import key_terms, store

    enc = encoders.get_encoder()
    gen = store.current()
    keys = gen.keys_of([p[0] for p in papers])
    doc_vecs = gen.matrix.get(np.array([keys[p[0]] for p in papers]))
    per_paper = [key_terms.candidates(t, a)[: key_terms.MAX_CANDIDATES] for _, t, a in papers]
    phrases = list(dict.fromkeys(c.key for cands in per_paper for c in cands))
    started = time.perf_counter()
    vecs = enc.encode_documents(phrases)
    phrases_s = time.perf_counter() - started
    row = {key: i for i, key in enumerate(phrases)}
    out = []
    for cands, doc in zip(per_paper, doc_vecs, strict=True):
        if not cands:
            out.append([])
            continue
        mine = vecs[[row[c.key] for c in cands]]
        pool = np.argsort(-(mine @ doc), kind="stable")[:POOL]
        picked = [cands[pool[i]] for i in mmr(doc, mine[pool], count + 2)]
        keys_ = [c.key for c in picked]
        kept = [c for c in picked if not any(c.key != k and f" {c.key} " in f" {k} " for k in keys_)]
        out.append([c.text for c in kept][:count])
    sample = papers[:500]
    started = time.perf_counter()
    enc.encode_documents([encoders.document_text(t, a) for _, t, a in sample])
    papers_s = (time.perf_counter() - started) * len(papers) / len(sample)
    return out, phrases_s, papers_s


def hits(papers, terms: list[list[str]]) -> dict[str, float]:
    """Per term: hit@10 and MRR@10 of its paper in the real hybrid search; per paper:
    any@10 (some term finds it)."""
    from paperfeed import search

    found = total = anyhit = 0
    reciprocal = 0.0
    for (arxiv_id, _, _), chosen in zip(papers, terms, strict=True):
        ranks = []
        for term in chosen:
            got = search.ids(term, mode="hybrid", limit=10)
            ranks.append(got.index(arxiv_id) + 1 if arxiv_id in got else None)
        found += sum(r is not None for r in ranks)
        reciprocal += sum(1 / r for r in ranks if r)
        total += len(ranks)
        anyhit += any(ranks)
    return {"hit@10": found / max(total, 1), "mrr@10": reciprocal / max(total, 1),
            "any@10": anyhit / max(len(papers), 1), "terms_per_paper": total / max(len(papers), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--corpus", choices=("sample", "scifact"), default="sample")
    ap.add_argument("--papers", type=int, default=None, help="search the terms of every k-th paper, N in all")
    ap.add_argument("--count", type=int, default=5)
    ap.add_argument("--methods", default="tfidf,embed", help="comma-separated: tfidf, embed")
    args = ap.parse_args()
    engine = prepare(args.workdir, args.corpus)
    papers = papers_of(engine)
    every = max(1, len(papers) // args.papers) if args.papers else 1
    wanted = range(0, len(papers), every)
    chosen = [papers[i] for i in wanted]
    started = time.perf_counter()
    tfidf = tfidf_terms(chosen, args.count)
    tfidf_s = time.perf_counter() - started
    methods = args.methods.split(",")
    embed, phrases_s, papers_s = embed_terms(chosen, args.count) if "embed" in methods else ([[]] * len(chosen), 0, 1)
    print(f"# {args.corpus}: {len(papers)} papers, the terms of {len(chosen)} (every {every}) searched; "
          f"{platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    step = max(1, len(chosen) // SHOWN)
    for i in range(0, len(chosen), step)[:SHOWN]:
        arxiv_id, title, _ = chosen[i]
        print(f"\n{arxiv_id} {title[:90] if title else ''}")
        print(f"  tfidf: {' | '.join(tfidf[i])}")
        print(f"  embed: {' | '.join(embed[i])}")
    print()
    for name, terms in (("tfidf", tfidf), ("embed", embed)):
        if name not in methods:
            continue
        for metric, value in hits(chosen, terms).items():
            print(f"{name}_{metric}: {value:.3f}")
    print(f"tfidf_ms_per_paper: {1000 * tfidf_s / len(chosen):.2f}")
    if "embed" in methods:
        print(f"embed_ms_per_paper: {1000 * phrases_s / len(chosen):.2f}")
        print(f"embed_cost_vs_embedding_papers: {phrases_s / papers_s:.2f}")


if __name__ == "__main__":
    main()
