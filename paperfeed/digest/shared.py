"""
Saved searches shared by the processes that compose one run (`digest.parallel`).

Each worker composes whole batches, and each batch meets most of the run's
saved queries (a pool of popular queries), so without sharing every worker
repeats nearly every search.  With a `Shared` file (SQLite, in a directory the
sending process makes for the run and removes after it) a worker

1. claims the searches its batch needs that nobody has claimed (`claim`, one
   transaction: whoever inserts a search's row first owns it),
2. runs its own, a chunk at a time, skipping any another worker has published
   meanwhile, and publishes each chunk's results (`publish`),
3. reads what the others published (`published`) and, for searches claimed
   elsewhere but not published yet, runs them itself from the end of the list
   (the owner goes from the start), publishing them too.

Nobody waits for anybody, so a worker that is slow, stops or failed a search
(failures are never published) costs at most a repeated search, never a
digest.  The results are the ones each worker would have found itself: the
same search over the same index, so the digests do not depend on who ran it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from datetime import date
from pathlib import Path

Key = tuple[str, date, date]  # (query text, first day, day after the last)

SCHEMA = """
create table if not exists searches (
    text text not null, after text not null, before text not null,
    owner integer not null,
    ids text,  -- the arXiv ids found, best first, one per line; null until published
    primary key (text, after, before)
)
"""


def _row(key: Key) -> tuple[str, str, str]:
    text, after, before = key
    return text, after.isoformat(), before.isoformat()


class Shared:
    """One worker's handle on a run's shared searches file at `path` (created if absent)."""

    def __init__(self, path: Path | str, owner: int | None = None):
        self.owner = os.getpid() if owner is None else owner
        self.db = sqlite3.connect(path, timeout=60, check_same_thread=False)  # `with self.db`: one transaction
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=off")  # a run's scratch file: a crash loses nothing that matters
        self.db.execute(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def claim(self, keys: Iterable[Key]) -> set[Key]:
        """Those of `keys` nobody had claimed, now this worker's to search."""
        mine: set[Key] = set()
        with self.db:
            for key in keys:
                cur = self.db.execute("insert or ignore into searches (text, after, before, owner) values (?, ?, ?, ?)",
                                      (*_row(key), self.owner))
                if cur.rowcount == 1:
                    mine.add(key)
        return mine

    def publish(self, results: dict[Key, list[str]]) -> None:
        """Record searches' results (ids best first) for the other workers; a search published
        already keeps its first results."""
        if not results:
            return
        with self.db:
            self.db.executemany(
                "insert into searches (text, after, before, owner, ids) values (?, ?, ?, ?, ?)"
                " on conflict (text, after, before) do update set ids = excluded.ids where searches.ids is null",
                [(*_row(k), self.owner, "\n".join(ids)) for k, ids in results.items()],
            )

    def published(self, keys: Iterable[Key]) -> dict[Key, list[str]]:
        """The published results of those of `keys` that have some."""
        out: dict[Key, list[str]] = {}
        for key in keys:
            got = self.db.execute("select ids from searches where text = ? and after = ? and before = ?"
                                  " and ids is not null", _row(key)).fetchone()
            if got is not None:
                out[key] = got[0].split("\n") if got[0] else []
        return out
