"""The digest workers' process settings (`digest.parallel`)."""

from __future__ import annotations

import gc
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from paperfeed.digest import parallel

# Allocates, touches and frees two 300 MB arrays five times, after one round that grows the heap,
# and prints the minor page faults of those five rounds.
FAULTS = """
import resource, sys
import numpy as np
from paperfeed.digest import parallel
if sys.argv[1] == "keep" and not parallel.keep_freed_memory():
    print("unsupported"); raise SystemExit
def round_():
    a = np.ones((200_000, 384), np.float32)
    return float((a * 2.0)[0, 0])
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> str:
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_worker_reuses_the_memory_it_frees_instead_of_faulting_it_in_again():
    kept = faults("keep")
    if kept == "unsupported":
        pytest.skip("no glibc mallopt here")
    plain = int(faults("plain"))
    # each round maps fresh pages for its arrays (thousands of faults, tens with huge pages);
    # a worker that keeps its freed memory faults none of them in again
    assert plain >= 20, plain
    assert int(kept) < plain / 10, (kept, plain)


# Holds 300,000 long-lived objects, then makes 2,000,000 more, each a cycle, of which it keeps
# one in five (a worker's caches grow as its run goes on), and prints the full collections that
# made and how many of the cycles it dropped are left uncollected.
COLLECTIONS = """
import gc, sys
from paperfeed.digest import parallel
if sys.argv[1] == "worker":
    parallel.collect_less()
kept = [[i] for i in range(300_000)]
full = [0]
gc.callbacks.append(lambda phase, info: phase == "stop" and info["generation"] == 2 and full.__setitem__(0, full[0] + 1))
class Node:
    pass
for i in range(2_000_000):
    a = Node()
    a.me = a  # a cycle: only the collector frees it
    if i % 5 == 0:
        kept.append(a)
alive = sum(isinstance(o, Node) for o in gc.get_objects()) - 400_000
print(full[0], alive)
"""


def collections(mode: str) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", COLLECTIONS, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    full, alive = done.stdout.split()
    return int(full), int(alive)


def test_a_worker_rarely_walks_its_long_lived_objects_and_still_frees_cycles():
    plain_full, plain_alive = collections("plain")
    worker_full, worker_alive = collections("worker")
    assert plain_full >= 2, plain_full  # Python's defaults walk the whole heap again and again
    assert worker_full < plain_full, (worker_full, plain_full)
    # the young collections still free the cycles: at most one threshold's worth is left
    assert worker_alive <= parallel.GC_THRESHOLDS[0], worker_alive


def test_the_sending_process_collects_less_only_while_workers_compose(engine):
    before = gc.get_threshold()
    assert before != parallel.GC_THRESHOLDS
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    during = [gc.get_threshold() for _ in parallel.composed(engine, now, [([], [])] * 3, processes=2)]
    assert during == [parallel.GC_THRESHOLDS] * 3  # it unpickles every digest the workers send
    assert gc.get_threshold() == before
    run = parallel.composed(engine, now, [([], [])] * 3, processes=2)
    next(run)
    run.close()  # a run stopped early (the mail server down) restores them too
    assert gc.get_threshold() == before
    # composing in this process leaves them alone
    assert [gc.get_threshold() for _ in parallel.composed(engine, now, [([], [])] * 3, processes=1)] == [before] * 3
