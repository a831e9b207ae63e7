"""`paperfeed backup` / `paperfeed restore`: consistent copies while writes continue.

On SQLite through the online backup API, on PostgreSQL through pg_dump and
pg_restore (skipped when they are not installed).
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from paperfeed import db
from paperfeed.cli import cli
from paperfeed.models import Paper, User, Vote
from paperfeed.ops.backup import BackupError, backup, detect, restore, row_counts
from tests.databases import second_database

SEED_PAPERS = 1500
USERS = 20
ABSTRACT = "We study the thing. " * 150  # ~3 kB, so the database is a few MB


@pytest.fixture(autouse=True)
def needs_pg_tools(engine):
    if not db.is_sqlite(engine) and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore not installed")


def paper_row(n: int) -> dict:
    return {
        "arxiv_id": f"2611.{n:05d}", "abstract": ABSTRACT, "title": f"Paper {n}",
        "content_hash": f"{n:032x}", "revision": n, "versions": [], "authors": ["A. Author"],
        "categories": ["cs.LG"], "sources": {},
    }


def seed(engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(User), [{"username": f"user{i}", "created_at": now} for i in range(USERS)])
        conn.execute(insert(Paper), [paper_row(n) for n in range(SEED_PAPERS)])
        conn.execute(
            insert(Vote),
            [{"user_id": n % USERS + 1, "arxiv_id": f"2611.{n:05d}", "created_at": now} for n in range(SEED_PAPERS)],
        )


class Writer(threading.Thread):
    """Inserts a paper and its vote per transaction until stopped: every committed
    state has exactly one vote per paper, so a torn copy would show."""

    def __init__(self, engine):
        super().__init__(daemon=True)
        self.engine = engine
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        n = SEED_PAPERS
        try:
            while not self.stop.is_set():
                with self.engine.begin() as conn:
                    conn.execute(insert(Paper), [paper_row(n)])
                    conn.execute(insert(Vote), [{"user_id": n % USERS + 1, "arxiv_id": f"2611.{n:05d}", "created_at": datetime.now(UTC)}])
                n += 1
                self.written += 1
        except BaseException as e:  # noqa: BLE001 (reported by the test)
            self.error = e


def papers(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Paper)).scalar_one()


def test_backup_while_writing_restores_consistently(engine, tmp_path):
    seed(engine)
    writer = Writer(engine)
    writer.start()
    while writer.written < 20:
        time.sleep(0.01)
    before = papers(engine)
    during = writer.written
    out = tmp_path / "backups" / "paperfeed.backup"
    result = backup(engine, out)
    written_during = writer.written - during
    time.sleep(0.1)
    writer.stop.set()
    writer.join(30)
    assert writer.error is None
    after = papers(engine)
    assert after > before
    assert out.exists() and result.size == out.stat().st_size
    assert detect(out) == ("sqlite" if db.is_sqlite(engine) else "pg_dump")
    assert not list(out.parent.glob(".*partial"))  # no temporary file left behind
    print(f"papers written while the backup ran: {written_during}")

    with second_database(tmp_path / "restored") as url:
        restored = restore(url, out)
        target = db.connect(url)
        counts = row_counts(target)
        assert restored.counts == counts
        assert before <= counts["papers"] <= after
        assert counts["votes"] == counts["papers"]  # one snapshot: each paper with its vote
        assert counts["users"] == USERS
        if db.is_sqlite(target):
            conn = sqlite3.connect(target.url.database)
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            conn.close()
        with target.connect() as conn:  # votes all point at a paper and a user
            orphans = conn.execute(
                select(func.count()).select_from(Vote).outerjoin(Paper, Paper.arxiv_id == Vote.arxiv_id)
                .where(Paper.arxiv_id.is_(None))
            ).scalar_one()
        assert orphans == 0
        # the restored database is usable: new rows go in
        with target.begin() as conn:
            conn.execute(insert(User), [{"username": "after-restore", "created_at": datetime.now(UTC)}])


def test_restore_refuses_a_database_with_rows_unless_forced(engine, tmp_path):
    seed(engine)
    out = tmp_path / "b.backup"
    backup(engine, out)
    url = str(engine.url.render_as_string(hide_password=False))
    with pytest.raises(BackupError, match="not empty"):
        restore(url, out)
    with engine.begin() as conn:
        conn.execute(insert(User), [{"username": "extra", "created_at": datetime.now(UTC)}])
    db.dispose(url)
    restored = restore(url, out, force=True)
    assert restored.counts["users"] == USERS  # the extra user is gone: the backup replaced it all


def test_backup_refuses_to_overwrite_unless_forced(engine, tmp_path):
    out = tmp_path / "b.backup"
    out.write_bytes(b"precious")
    with pytest.raises(BackupError, match="exists"):
        backup(engine, out)
    assert out.read_bytes() == b"precious"
    backup(engine, out, force=True)
    assert detect(out) in ("sqlite", "pg_dump")


def test_restore_rejects_what_is_not_a_backup(engine, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a backup at all")
    with pytest.raises(BackupError, match="neither"):
        restore(str(engine.url.render_as_string(hide_password=False)), junk)


def test_commands_and_exit_statuses(engine, tmp_path):
    seed(engine)
    out = tmp_path / "cli.backup"
    runner = CliRunner()
    done = runner.invoke(cli, ["backup", "--output", str(out)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"wrote {out}")
    if db.is_sqlite(engine):  # counted in the copy itself; pg_dump's archive is not opened
        assert f"papers {SEED_PAPERS}" in done.output
    assert runner.invoke(cli, ["backup", "--output", str(out)]).exit_code == 1
    refused = runner.invoke(cli, ["restore", str(out)])
    assert refused.exit_code == 1 and "not empty" in refused.output
    forced = runner.invoke(cli, ["restore", "--force", str(out)])
    assert forced.exit_code == 0, forced.output
    assert f"papers {SEED_PAPERS}" in forced.output


def test_postgres_without_pg_dump_says_what_to_run(engine, tmp_path, monkeypatch):
    if db.is_sqlite(engine):
        pytest.skip("PostgreSQL only")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BackupError, match="pg_dump --format=custom --file"):
        backup(engine, tmp_path / "x.dump")


def test_backups_are_private_from_the_first_byte(engine, tmp_path, monkeypatch):
    """A backup holds password hashes and addresses: 0600 for the final file and every
    partial or journal file beside it, at every moment (made so, not chmod()ed after)."""
    import os
    import stat

    from paperfeed.ops import backup as module

    seed(engine)
    out_dir = tmp_path / "backups"
    seen: dict[str, int] = {}

    def look(when: str) -> None:
        for path in out_dir.iterdir():
            seen[f"{when}:{path.name}"] = stat.S_IMODE(path.stat().st_mode)

    real_replace, real_check, real_chmod = os.replace, module._check, os.chmod
    monkeypatch.setattr(os, "replace", lambda a, b: (look("rename"), real_replace(a, b))[1])
    monkeypatch.setattr(module, "_check", lambda conn, path: (look("check"), real_check(conn, path))[1])

    def no_chmod(*args, **kwargs):
        raise AssertionError("chmod after creation leaves a window")

    monkeypatch.setattr(os, "chmod", no_chmod)
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        out = out_dir / "b.backup"
        backup(engine, out)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        out.write_bytes(b"old")
        real_chmod(out, 0o644)
        backup(engine, out, force=True)  # replacing a readable file leaves a private one
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        monkeypatch.setattr(os, "chmod", real_chmod)
        cli_out = out_dir / "cli.backup"
        assert CliRunner().invoke(cli, ["backup", "--output", str(cli_out)]).exit_code == 0
        assert stat.S_IMODE(cli_out.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    partial = [name for name in seen if name.endswith(".partial")]
    assert partial, seen  # the partial file was looked at before its rename
    assert all(mode == 0o600 for name, mode in seen.items() if not name.endswith(".backup")), seen
    assert sorted(p.name for p in out_dir.iterdir()) == ["b.backup", "cli.backup"]  # nothing left behind
