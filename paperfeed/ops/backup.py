"""
Backups and restores of the database (`paperfeed backup`, `paperfeed restore`).

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies the
database in one step, inside one read transaction, so the copy is the database
as it was at one instant even while the site and the timers keep writing (in
WAL mode a reader does not block writers).  The copy is switched out of WAL
mode so it is one self-contained file, checked with `PRAGMA integrity_check`,
and renamed into place only when complete.  Backups hold password hashes
and e-mail addresses, so every file is created 0600 (owner only).  A restore
copies it back through the same API, which goes through SQLite's locking
(never a file copy over a live WAL database), then migrates the schema to head.

PostgreSQL: `pg_dump --format=custom` and `pg_restore`, the tools made for it
(consistent snapshots, every type, large objects, parallel restore); we do not
write a dumper of our own.  pg_dump must be at least the server's major
version.  When it is not installed, the error says which command to run.

The search indexes are not backed up: they are derived from the database and
`paperfeed index --rebuild` remakes them.  The signing key
(`<data_dir>/secret_key`, unless `PAPERFEED_SECRET_KEY` is set) is not in the
database: keep a copy of it too, or links in emails already sent stop working.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, MetaData, func, inspect, select

from paperfeed import db
from paperfeed.models import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
PRIVATE = 0o600  # backups and their partial files: the owner reads and writes, nobody else
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """The backup or restore could not be done; the message says why and what to do."""


@dataclass
class Result:
    path: Path
    method: str
    size: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def line(self, verb: str) -> str:
        rows = ", ".join(f"{t} {n}" for t, n in self.counts.items())
        size = f"{self.size / 1e6:.1f} MB" if self.size else ""
        return f"{verb} {self.path} ({', '.join(x for x in (self.method, size) if x)}){': ' + rows if rows else ''}"


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per paperfeed table (tables missing from the database are left out)."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
            if t.name in present
        }


def detect(path: Path) -> str:
    """"sqlite" or "pg_dump" from a backup file's first bytes."""
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_dump"
    raise BackupError(f"{path} is neither a SQLite database nor a pg_dump custom-format archive")


# --- taking a backup ---------------------------------------------------------


def backup(engine: Engine, output: Path, force: bool = False) -> Result:
    """Write a consistent copy of the database behind `engine` to `output`."""
    if output.exists() and not force:
        raise BackupError(f"{output} exists; choose another name or pass --force to overwrite it")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.partial")
    tmp.unlink(missing_ok=True)  # left by a crashed run with our pid: O_EXCL below needs it gone
    try:
        _create_private(tmp)
        if db.is_sqlite(engine):
            counts = _sqlite_backup(_sqlite_path(engine), tmp)
            result = Result(output, "SQLite online backup", counts=counts)
        else:
            version = _pg_dump(engine, tmp, output)
            result = Result(output, f"pg_dump --format=custom, {version}")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    result.size = output.stat().st_size
    return result


def _create_private(path: Path) -> None:
    """Create `path` empty, readable by its owner only, from the first instant.

    A backup holds password hashes and e-mail addresses.  Made 0600 by open(),
    not chmod()ed after, so there is no moment when others may read it; the
    rename keeps the mode, and SQLite gives its journal files the mode of the
    database file.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    os.fchmod(fd, PRIVATE)  # a strict umask may have narrowed it (0400: not even we could write)
    os.close(fd)


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("the configured SQLite database is in memory: nothing to back up")
    return Path(database)


def _sqlite_backup(source: Path, target: Path) -> dict[str, int]:
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # all pages in one step: one read snapshot, writers carry on (WAL)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        _check(dst, target)
        counts = _sqlite_counts(dst)
        dst.commit()
    finally:
        dst.close()
        src.close()
    with target.open("rb") as f:
        os.fsync(f.fileno())
    return counts


def _check(conn: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise BackupError(f"{path} failed SQLite's integrity check: {'; '.join(problems[:5])}")
    if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
        raise BackupError(f"{path} has rows whose foreign keys point nowhere")


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    present = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    return {
        t.name: conn.execute(f'select count(*) from "{t.name}"').fetchone()[0]
        for t in Base.metadata.sorted_tables
        if t.name in present
    }


def libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The server's URL for libpq tools (no driver, no password) and an environment
    carrying the password, so it never shows in `ps`."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str, command: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed (Debian/Ubuntu: apt-get install postgresql-client-<server major version>); "
            f"run it yourself:\n  {command}"
        )
    return path


def _pg_dump(engine: Engine, target: Path, output: Path) -> str:
    url, env = libpq(engine)
    command = f"pg_dump --format=custom --file {output} '{url}'"
    argv = [_tool("pg_dump", command), "--format=custom", "--file", str(target), "--dbname", url]
    # pg_dump writes into the 0600 file made for it; the umask covers any file it makes itself
    done = subprocess.run(argv, env=env, capture_output=True, text=True, umask=0o077)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()}")
    version = subprocess.run([argv[0], "--version"], capture_output=True, text=True).stdout.strip()
    return version or "pg_dump"


# --- restoring ---------------------------------------------------------------


def restore(url: str, path: Path, force: bool = False) -> Result:
    """Restore the backup at `path` into the database at `url`, then migrate it to head.

    Refuses a database holding any row unless `force`.  The caller should stop
    the web workers and timers first.
    """
    kind = detect(path)
    engine = db.make_engine(url)
    try:
        sqlite = db.is_sqlite(engine)
        if kind == "sqlite" and not sqlite:
            raise BackupError(
                f"{path} is a SQLite backup and the configured database is PostgreSQL: restore it into "
                "a SQLite data directory, then copy it over with `paperfeed migrate-db --to URL`"
            )
        if kind == "pg_dump" and sqlite:
            raise BackupError(f"{path} is a pg_dump archive: set PAPERFEED_DATABASE_URL to the PostgreSQL database")
        counts = row_counts(engine)
        if any(counts.values()) and not force:
            held = ", ".join(f"{t} {n}" for t, n in counts.items() if n)
            raise BackupError(f"the database is not empty ({held}); pass --force to replace it")
        if sqlite:
            _sqlite_restore(path, _sqlite_path(engine))
            method = "SQLite backup"
        else:
            _drop_tables(engine)
            _pg_restore(engine, path)
            method = "pg_restore"
        engine.dispose()
        db.upgrade(engine)  # a backup from an older paperfeed is brought up to date
        return Result(path, method, counts=row_counts(engine))
    finally:
        engine.dispose()


def _sqlite_restore(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
    try:
        _check(src, source)
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)  # through SQLite's locks, so a WAL file beside the target stays coherent
        finally:
            dst.close()
    finally:
        src.close()


def _drop_tables(engine: Engine) -> None:
    """Empty the schema for pg_restore: every table there, paperfeed's and Alembic's.

    The database is assumed to belong to paperfeed (docs/operations.md: one
    database per installation).
    """
    meta = MetaData()
    meta.reflect(engine)
    with engine.begin() as conn:
        meta.drop_all(conn)


def _pg_restore(engine: Engine, path: Path) -> None:
    url, env = libpq(engine)
    command = f"pg_restore --no-owner --no-privileges --single-transaction --dbname '{url}' {path}"
    argv = [
        _tool("pg_restore", command), "--no-owner", "--no-privileges", "--single-transaction",
        "--exit-on-error", "--dbname", url, str(path),
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {done.returncode}), nothing restored: {done.stderr.strip()}")

