"""The digest workers' process settings (`digest.parallel`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
