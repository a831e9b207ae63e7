"""Concurrent paper writers (an ingest and a web submission, say) neither fail nor share a revision."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from paperfeed.ingest.records import PaperRecord
from paperfeed.ingest.upsert import write_batch
from paperfeed.models import Paper


def batch(writer: int, size: int = 50) -> list[PaperRecord]:
    return [
        PaperRecord(arxiv_id=f"26{writer:02d}.{i:05d}", source="test", version=1, title=f"paper {writer}-{i}", abstract="text")
        for i in range(size)
    ]


def test_concurrent_writers_all_land_with_distinct_revisions(engine):
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        try:
            for round_ in range(5):
                write_batch(engine, batch(writer * 10 + round_))
        except BaseException as e:  # reported below: a thread's exception would vanish
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Paper)) == 4 * 5 * 50
        per_revision = conn.execute(select(Paper.revision, func.count()).group_by(Paper.revision)).all()
    # every batch got a revision of its own: the indexer's cursor never sees two batches interleave
    assert len(per_revision) == 20 and all(n == 50 for _, n in per_revision)
