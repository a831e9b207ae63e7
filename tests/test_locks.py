"""Locks (`paperfeed.locks`): one copy of a job at a time across processes, released when the holder dies.

Runs on SQLite (a flock in the data directory) and on PostgreSQL (an advisory
lock) through the `db_url` fixture; the second copies are real processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperfeed import db
from paperfeed.locks import EXIT_LOCKED, JobLocked, file_lock, job_lock, lock_key
from tests.replay import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(FIXTURES / "oai-pmh" / "GetRecordResponse.xml")  # one paper
HOLDER = """
import sys, time
from paperfeed.locks import job_lock
with job_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(engine):
    """Start a process that takes a job's lock and keeps it; yields a starter."""
    started: list[subprocess.Popen] = []

    def start(name: str = "ingest") -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(proc)
        line = proc.stdout.readline()
        assert line.strip() == "held", proc.stderr.read()
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def paperfeed(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_second_process_exits_locked_while_the_first_runs(holder):
    holder("ingest")
    done = paperfeed("ingest", SMALL)
    assert done.returncode == EXIT_LOCKED, done.stderr
    assert "another `paperfeed ingest` is running" in done.stderr
    assert "read" not in done.stdout  # nothing was ingested


def test_lock_is_released_when_the_holder_is_killed(holder):
    proc = holder("ingest")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # PostgreSQL drops the lock when it sees the connection close: give it a moment
    deadline = time.monotonic() + 20
    while True:
        done = paperfeed("ingest", SMALL)
        if done.returncode != EXIT_LOCKED or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("read 1, new 1")


def test_other_jobs_are_not_blocked(holder, engine):
    holder("index")
    with job_lock("ingest", engine):
        pass
    with pytest.raises(JobLocked, match="another `paperfeed index` is running"):
        with job_lock("index", engine):
            pass


def test_lock_is_exclusive_and_released_after_the_block(engine):
    # a second lock from the same process is a second holder (another open file
    # description on SQLite, another server session on PostgreSQL)
    with job_lock("ingest", engine):
        with pytest.raises(JobLocked) as caught:
            with job_lock("ingest", engine):
                pass
        assert caught.value.holder  # says who holds it
    with job_lock("ingest", engine):
        pass


def test_lock_is_released_when_the_job_fails(engine):
    with pytest.raises(RuntimeError):
        with job_lock("ingest", engine):
            raise RuntimeError("the job broke")
    with job_lock("ingest", engine):
        pass


def test_lock_key_is_the_same_in_every_process():
    code = "from paperfeed.locks import lock_key; print(lock_key('ingest'))"
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env).stdout
    assert int(out) == lock_key("ingest") != lock_key("index")
    assert -(2**63) <= lock_key("ingest") < 2**63


def test_bad_names_are_refused(engine):
    with pytest.raises(ValueError):
        with job_lock("../etc/passwd", engine):
            pass



def test_digest_send_takes_the_same_kind_of_lock(holder, monkeypatch):
    """`digest send` holds the "digest" job lock: another process holding it makes the send skip."""
    monkeypatch.setenv("PAPERFEED_SITE_URL", "https://papers.example.org")  # else it refuses before the lock
    holder("digest")
    done = paperfeed("digest", "send")
    assert done.returncode == EXIT_LOCKED, done.stderr
    assert "digest send: another run holds the lock; nothing done" in done.stderr


def test_file_lock_is_exclusive_says_who_holds_it_and_is_released(tmp_path):
    path = tmp_path / "lock"
    with file_lock(path, "index"):
        with pytest.raises(JobLocked, match="another `paperfeed index` is running") as caught:
            file_lock(path, "index")
        assert f"pid {os.getpid()}" in caught.value.holder
    lock = file_lock(path, "index")
    lock.close()
    lock.close()  # closing twice is harmless
    with file_lock(path, "index"):
        pass


def test_index_update_refuses_while_its_directory_is_locked(engine, tmp_path):
    pytest.importorskip("tantivy")
    from paperfeed.search.indexer import IndexBusy, update

    root = tmp_path / "index"
    root.mkdir()
    with file_lock(root / "lock", "index"):
        with pytest.raises(IndexBusy, match="another `paperfeed index` is updating"):
            update(engine, index_dir=root, encoder=object())


def test_a_second_paperfeed_index_exits_75(engine):
    pytest.importorskip("tantivy")
    from click.testing import CliRunner

    from paperfeed.cli import cli
    from paperfeed.search.store import index_root

    root = index_root()
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / "lock", "index"):
        result = CliRunner().invoke(cli, ["index"])
    assert result.exit_code == EXIT_LOCKED, result.output
    assert "another `paperfeed index` is updating" in result.output

def test_processes_starting_together_migrate_once(empty_db_url):
    """Web workers and timers starting at once on a fresh database: one migrates, the rest wait."""
    if empty_db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL: SQLite runs one process")
    code = "from paperfeed import db; db.connect()"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert db.connect(empty_db_url)  # at head
