"""
The one pass over the stored papers that migration 0006 makes: what ingest now
does to every record it writes, done once to the papers written before.

- `papers.links`: code, project-page and Hugging Face links found in the
  comments and abstract (`ingest.links`);
- mojibake repaired in titles, authors and abstracts (`ingest.repairs`), each
  repair logged to `<data dir>/repairs.jsonl` as at ingest; a repaired paper
  gets a new content hash and revision (so `paperfeed index` re-indexes it) and
  its entries in the library's author and title index are rewritten.

It reads the papers in pages of `PAGE` by arXiv id and writes only the rows
that change; on the bundled samples it repairs the arXiv API sample's
double-encoded names.  About a minute per million papers, almost all of it
reading: a paper without a URL-like string or a suspect character costs two
substring scans.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, bindparam, func, select, update

from paperfeed.ingest import paper_index, repairs, upsert
from paperfeed.models import Paper

PAGE = 5000
papers = Paper.__table__
log = logging.getLogger("paperfeed.ingest.backfill")


def run(conn: Connection, repair_log: repairs.RepairLog | None = None) -> tuple[int, int]:
    """Extract links and repair text for every stored paper; (papers with links, papers repaired)."""
    own_log = repair_log is None
    repair_log = repair_log or repairs.RepairLog()
    with_links = repaired = 0
    revision = None
    after = ""
    columns = [papers.c.arxiv_id, papers.c.sources, papers.c.content_hash] + [papers.c[k] for k in upsert.CONTENT]
    try:
        while True:
            rows = list(conn.execute(
                select(*columns).where(papers.c.arxiv_id > after).order_by(papers.c.arxiv_id).limit(PAGE)
            ).mappings())
            if not rows:
                break
            after = rows[-1]["arxiv_id"]
            found, fixed = [], []
            for row in rows:
                got = upsert.paper_links(row["comments"], row["abstract"])
                if got:
                    found.append({"_id": row["arxiv_id"], "found": got})
                title, authors, abstract, done = repairs.repair_fields(
                    row["arxiv_id"], row["title"], row["authors"], row["abstract"]
                )
                if done:
                    for repair in done:
                        repair_log.add(repair)
                    new = dict(row, title=title, authors=authors, abstract=abstract)
                    fixed.append(new | {"content_hash": upsert.content_hash(new)})
            if found:
                conn.execute(update(papers).where(papers.c.arxiv_id == bindparam("_id")).values(links=bindparam("found", type_=papers.c.links.type)), found)
                with_links += len(found)
            if fixed:
                if revision is None:
                    revision = (conn.execute(select(func.coalesce(func.max(papers.c.revision), 0))).scalar() or 0) + 1
                conn.execute(
                    update(papers).where(papers.c.arxiv_id == bindparam("_id")).values(
                        title=bindparam("t"), authors=bindparam("a", type_=papers.c.authors.type),
                        abstract=bindparam("b"), content_hash=bindparam("h"), revision=revision,
                    ),
                    [{"_id": r["arxiv_id"], "t": r["title"], "a": r["authors"], "b": r["abstract"], "h": r["content_hash"]}
                     for r in fixed],
                )
                paper_index.write(conn, [(r["arxiv_id"], r["title"], r["authors"]) for r in fixed])
                repaired += len(fixed)
    finally:
        if own_log:
            repair_log.close()
    if repaired or with_links:
        log.info("backfill: links for %d papers, text repaired in %d", with_links, repaired)
    return with_links, repaired
