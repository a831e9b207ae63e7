"""
Parse a file in a second process while this one writes to the database.

The reader parses, cleans, checks, repairs (`repairs`) and stages records (`upsert.stage`: the row
a new paper makes, less its content hash, which the writer computes), so the
writer only hashes, compares and inserts; on a machine with two or more cores
the two halves run in parallel.  Batches travel through a bounded queue, so memory stays
constant however large the file; the reader exits by itself if its parent dies
(for example when an ingest is killed), so nothing is left running.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Iterator
from pathlib import Path

from paperfeed.ingest.records import PaperRecord, Reject
from paperfeed.ingest.repairs import Repair, repair_record
from paperfeed.ingest.upsert import Staged, stage

BATCH = 1000
DEPTH = 4  # batches in flight: bounds memory


def worth_it(path: Path) -> bool:
    """A second process pays off for big files on machines with a spare core."""
    return (os.cpu_count() or 1) > 1 and path.stat().st_size >= 8 * 1024 * 1024


def _put(q, item, parent: int) -> bool:
    while True:
        try:
            q.put(item, timeout=1)
            return True
        except queue.Full:
            if os.getppid() != parent:  # orphaned: the writer is gone
                q.cancel_join_thread()  # or exit would wait forever to flush into a pipe nobody reads
                return False


def _reader(path: str, fmt: str | None, q, parent: int) -> None:
    from paperfeed.ingest import formats

    try:
        with formats.open_file(Path(path)) as f:
            batch: list = []
            for item in formats.records(path, fmt, f):
                if isinstance(item, PaperRecord):  # checked, repaired and staged here, off the writer's core
                    reject = item.check(path)
                    if reject is None:
                        batch.extend(repair_record(item))  # logged by the parent
                    item = reject or stage(item)
                batch.append(item)
                if len(batch) >= BATCH:
                    if not _put(q, (batch, formats.position(f)), parent):
                        return
                    batch = []
            _put(q, (batch, formats.position(f)), parent)
        _put(q, None, parent)
    except Exception as e:  # handed to the parent, which reports it like an in-process error
        _put(q, e, parent)


class ChildReader:
    """Iterates over the records of a file parsed in a child process; `position` is the byte offset reached."""

    def __init__(self, path: str, fmt: str | None):
        self.path, self.fmt = path, fmt
        self.position = 0

    def __iter__(self) -> Iterator[Staged | Reject | Repair]:
        ctx = mp.get_context("fork")
        q = ctx.Queue(maxsize=DEPTH)
        child = ctx.Process(target=_reader, args=(self.path, self.fmt, q, os.getpid()), daemon=True)
        child.start()
        try:
            while True:
                try:
                    message = q.get(timeout=1)
                except queue.Empty:
                    if not child.is_alive():
                        raise RuntimeError(f"the reader of {self.path} died (exit code {child.exitcode})") from None
                    continue
                if message is None:
                    return
                if isinstance(message, Exception):
                    raise message
                batch, self.position = message
                yield from batch
        finally:
            if child.is_alive():
                child.terminate()
            child.join()
