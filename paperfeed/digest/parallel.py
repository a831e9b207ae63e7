"""
A run's digests composed on several processes.

`digest send` composes its due subscribers a batch at a time
(`outbox.due_batches`, 1,000 subscribers).  Batches do not depend on each
other: a `Composer`'s shared lookups (trending, each saved query's search, the
For you windows) are caches, and everything per subscriber, the sent history
included, is read per batch.  So worker processes compose the batches while
the sending process queues and sends what they return, in the order the
batches were due; a digest is queued only by the sending process, so the
outbox's exactly-once rules are those of a run on one process.

Each worker is a fresh interpreter (multiprocessing's "spawn": it inherits the
environment and nothing else) with its own database connection, search index
handles and `Composer` for the run's clock, so a shared lookup is made once per
worker that needs it rather than once per run.  The saved searches, most of a
plain digest's work, are the exception: the workers share them through a
scratch file (`digest.shared`, in a temporary directory removed after the run),
so each runs about once per run (4,003 searches for 3,979 distinct ones in
`benchmarks/digest.py`'s full-size run, where each worker used to run ~3,900).
`PAPERFEED_DIGEST_WORKERS` (0: one per available core, at most 4) says how many;
a run with fewer than `MIN_BATCHES` batches holding a due subscriber composes in
the sending process, since a worker takes about two seconds to start (imports,
the query encoder).  On 2 cores two workers compose the full-size run in about
half of one process's time (0.45-0.62 in RESULTS.md's runs), with their memory and collector
settings (`keep_freed_memory`, `collect_less`) a sixth faster than without.  A worker logs
to stderr at the sending process's level, so a warning said once per run
(no index, a failing search) may be said once per worker.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import Engine

from paperfeed import settings
from paperfeed.digest.compose import Composer, Digest
from paperfeed.digest.shared import Shared

log = logging.getLogger("paperfeed.digest")

MIN_BATCHES = 2  # due batches from which a run starts workers
DEFAULT_MOST = 4  # workers when the setting is 0: one per core, at most this many
AHEAD = 2  # batches handed to each worker before the first comes back
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's `mallopt` parameters (malloc.h)
# A worker's cyclic garbage collector thresholds (Python's defaults are 700, 10, 10): see `collect_less`
GC_THRESHOLDS = (50_000, 20, 100)

_composer: Composer | None = None  # a worker's, for the whole run


def workers() -> int:
    """How many processes compose a run: `digest_workers`, 0 meaning one per available core, at
    most `DEFAULT_MOST` (a container's CPU quota is not in the affinity mask, and each worker
    holds its own windows and caches)."""
    return settings.get_int("digest_workers") or min(len(os.sched_getaffinity(0)), DEFAULT_MOST)


def composed(engine: Engine, now: datetime, batches: Iterable[tuple[list, list]], *, search_mode: str = "hybrid",
             processes: int | None = None) -> Iterator[tuple[list, list[Digest]]]:
    """(rows, their digests) for each `(rows, dues)` of `batches`, in order.

    On `processes` (default `workers()`) worker processes when there are at least
    `MIN_BATCHES` batches, else in this process.  Stopping early (closing the generator)
    cancels the batches not yet composed.
    """
    processes = workers() if processes is None else processes
    batches = iter(batches)
    first = list(islice(batches, MIN_BATCHES))
    if processes <= 1 or len(first) < MIN_BATCHES:
        composer = Composer(engine, now, search_mode=search_mode, full=False)
        for rows, dues in chain(first, batches):  # read a batch when it is composed, as before
            yield rows, composer.compose(rows, dues)
        return
    url = engine.url.render_as_string(hide_password=False)
    threads = max(1, len(os.sched_getaffinity(0)) // processes)
    level = logging.getLogger("paperfeed").getEffectiveLevel()
    scratch, shared = None, None
    try:
        scratch = TemporaryDirectory(prefix="paperfeed-digest-")
        shared = str(Path(scratch.name) / "searches.sqlite")
        Shared(shared).close()  # the file and its table, before any worker claims a search
    except (OSError, sqlite3.Error) as e:
        log.warning("digest: workers search alone (no shared searches file: %s: %s)", type(e).__name__, e)
        shared = None
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                               initargs=(url, now, search_mode, threads, level, shared))
    pending: deque = deque()
    thresholds = collect_less()  # this process unpickles every digest the workers send back
    try:
        for rows, dues in chain(first, batches):
            pending.append((rows, pool.submit(_compose, rows, dues)))
            if len(pending) >= AHEAD * processes:
                rows_, future = pending.popleft()
                yield rows_, future.result()
        while pending:
            rows_, future = pending.popleft()
            yield rows_, future.result()
    finally:
        gc.set_threshold(*thresholds)
        pool.shutdown(wait=True, cancel_futures=True)
        if scratch is not None:
            scratch.cleanup()


def _start(url: str, now: datetime, search_mode: str, threads: int, level: int, shared: str | None) -> None:
    """A worker's start: its memory and collector settings (`keep_freed_memory`, `collect_less`),
    its connection, its handle on the run's shared searches and `Composer`; the query encoder gets
    its share of the cores."""
    global _composer
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_memory()
    collect_less()
    if not int(os.environ.get("PAPERFEED_EMBEDDING_THREADS", "0") or 0):
        os.environ["PAPERFEED_EMBEDDING_THREADS"] = str(threads)
    from paperfeed import db

    handle = None
    if shared:
        try:
            handle = Shared(shared)
        except sqlite3.Error as e:
            log.warning("digest: a worker searches alone (%s: %s)", type(e).__name__, e)
    _composer = Composer(db.connect(url), now, search_mode=search_mode, full=False, shared=handle)


def keep_freed_memory() -> bool:
    """Have the C library keep the memory this process frees for its next allocations instead of
    handing large blocks back to the kernel; True where it could (glibc's `mallopt`).

    A worker's batches each allocate the same large arrays (a batch's library vectors and term
    rows, its prescores: tens of MB each).  glibc gives blocks that large their own mappings and
    unmaps them when they are freed, so every batch faulted them in again and the kernel zeroed
    them again (739,000 page faults in the full-size run).  With those mappings off (`M_MMAP_MAX`
    0) and the heap trimmed only above 2 GB of free memory, a worker reuses its own memory: its
    peak size stays the same, and the full-size run spends a quarter of the system time it did
    (benchmarks/RESULTS.md).  Elsewhere (musl, macOS) it does nothing."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1


def collect_less() -> tuple[int, int, int]:
    """Run the cyclic garbage collector less often in this process (`GC_THRESHOLDS`); returns the
    thresholds it replaced.

    A worker holds half a million long-lived objects (the catalogue's million keys, its For you
    windows, the papers it has read), and with Python's default thresholds a full collection,
    which walks all of them, came every few hundred thousand allocations: 35 of them in 30
    batches, 0.18 s each, a tenth of the worker's time.  With these thresholds the young
    collections, which free the cycles a digest leaves (its closures), come every 50,000
    allocations and a full one hardly ever in a run (benchmarks/RESULTS.md).  The sending process
    runs so while workers compose (`composed`): unpickling a batch's digests took 60-90 ms with
    the default thresholds and 6 ms with these."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    return previous


def _compose(rows: list, dues: list) -> list[Digest]:
    assert _composer is not None, "a worker composes after _start"
    return _composer.compose(rows, dues)
