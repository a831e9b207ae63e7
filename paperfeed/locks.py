"""
Locks that keep two copies of a job from running at once, on one machine or on
several sharing the database, and the one exit status a command gives when it
finds its lock taken.

- `job_lock(name)`: jobs that write the database.  `paperfeed ingest` takes the
  "ingest" lock (every form of it: files, URLs and the daily arXiv harvest), and
  so do `paperfeed restore` and `paperfeed migrate-db`, so a timer's ingest
  cannot write into a database being replaced or copied; `paperfeed digest send`
  (and the scheduler inside `paperfeed serve`) take the "digest" lock.
- `file_lock(path)`: state that lives in files on one machine, such as the
  search index directory that `paperfeed index` writes.

On PostgreSQL a job lock is a session-level advisory lock
(`pg_try_advisory_lock`) taken on a connection held for the job's whole life;
every host that shares the database sees it.  On SQLite, whose database file
lives on one machine, it is an exclusive `flock` on `<data_dir>/locks/<name>.lock`.
Both belong to the process: when it dies, even by SIGKILL, the kernel closes
the file or the socket and the lock is gone, so a crash never leaves a stale
lock behind.  A second copy does not wait: it raises `JobLocked`, and the
command exits with `EXIT_LOCKED` (75, EX_TEMPFAIL from sysexits.h: "try again
later"), which timers should treat as "skipped", not as a failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from paperfeed import db, settings

EXIT_LOCKED = 75  # sysexits EX_TEMPFAIL: another copy is running; try again later
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
log = logging.getLogger("paperfeed.locks")

class JobLocked(Exception):
    """Another copy of the job holds its lock."""

    def __init__(self, name: str, holder: str = ""):
        self.name = name
        self.holder = holder
        detail = f" ({holder})" if holder else ""
        super().__init__(f"another `paperfeed {name}` is running{detail}; nothing done")


def lock_key(name: str) -> int:
    """The advisory-lock key of a job: a stable signed 64-bit hash of its name.

    (Python's `hash()` is salted per process, so it cannot be shared.)
    """
    digest = hashlib.blake2b(f"paperfeed-job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextlib.contextmanager
def job_lock(name: str, engine: Engine | None = None) -> Iterator[None]:
    """Hold the lock of job `name` for the block, or raise `JobLocked` at once."""
    if not _NAME.match(name):
        raise ValueError(f"bad job name {name!r}")
    engine = engine or db.connect()
    if db.is_sqlite(engine):
        folder = settings.data_dir() / "locks"
        folder.mkdir(exist_ok=True)
        with file_lock(folder / f"{name}.lock", name):
            yield
    else:
        with _advisory_lock(name, engine):
            yield


class FileLock:
    """An exclusive `flock` held on an open file until `close()` or the end of a `with` block."""

    def __init__(self, fd: int):
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = -1

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def file_lock(path: Path, name: str) -> FileLock:
    """Take the exclusive `flock` on `path` (created if missing) at once, or raise `JobLocked(name)`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobLocked(name, _holder(fd)) from None
        # who holds it, for the message the next copy prints (the lock is the flock, not this)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return FileLock(fd)


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""


@contextlib.contextmanager
def _advisory_lock(name: str, engine: Engine) -> Iterator[None]:
    key = lock_key(name)
    with engine.connect() as conn:
        got = conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        # end the implicit transaction: a session idle *in a transaction* for the
        # length of a long job could be cut by idle_in_transaction_session_timeout
        conn.commit()
        if not got:
            raise JobLocked(name, _pg_holder(conn, key))
        try:
            yield
        finally:
            try:
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            except Exception:  # the connection died: the server has dropped the lock with it
                log.warning("could not release the %s lock cleanly", name, exc_info=True)
                conn.invalidate()


def _pg_holder(conn, key: int) -> str:
    """Which server session holds advisory lock `key` (a bigint key is split into
    classid, the high 32 bits, and objid, the low ones)."""
    try:
        row = conn.execute(
            text(
                "select a.pid, coalesce(host(a.client_addr), 'local socket') from pg_locks l"
                " join pg_stat_activity a on a.pid = l.pid"
                " where l.locktype = 'advisory' and l.granted and l.objsubid = 1"
                " and l.database = (select oid from pg_database where datname = current_database())"
                " and l.classid::bigint = :hi and l.objid::bigint = :lo"
            ),
            {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
        ).first()
        conn.commit()
    except Exception:  # only a nicer message is lost
        conn.rollback()
        return ""
    return f"server backend pid {row[0]}, client {row[1]}" if row else ""


@contextlib.contextmanager
def job_lock_or_exit(name: str, engine: Engine | None = None) -> Iterator[None]:
    """`job_lock` for commands: when held elsewhere, say so and exit `EXIT_LOCKED`."""
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(job_lock(name, engine))
    except JobLocked as e:
        print(f"paperfeed {name}: {e}", file=sys.stderr)
        sys.exit(EXIT_LOCKED)
    with stack:
        yield
