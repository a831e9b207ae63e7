"""
A new database for a test (the `db_url` fixture, and tests that copy or
restore into a second one): a SQLite file in a directory, or a fresh PostgreSQL
database on the test server when `PAPERFEED_TEST_POSTGRES_URL` is set (dropped
afterwards).

`second_database(migrated=True)` gives one already at the schema's head, copied
from a template migrated once per test process (a file copy on SQLite,
`CREATE DATABASE … TEMPLATE` on PostgreSQL): running every migration costs
0.15 s on SQLite and 0.3 s on PostgreSQL, for each of hundreds of tests.  What a
migration does is tested on empty databases (`migrated=False`, the default).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from paperfeed import db

PG_URL = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")


def _pg_url(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _drop(admin, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _drop_at_exit(admin, name: str) -> None:
    with contextlib.suppress(Exception):  # the server may be gone already
        _drop(admin, name)


@functools.cache
def _sqlite_template() -> str:
    """A SQLite file at the schema's head, made once per test process."""
    directory = tempfile.mkdtemp(prefix="paperfeed-template-")
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, "paperfeed.db")
    db.connect(f"sqlite:///{path}")
    db.dispose(f"sqlite:///{path}")  # closed: the file is whole, no journal beside it
    return path


@functools.cache
def _postgres_template() -> str:
    """The name of a PostgreSQL database at the schema's head, made once per test process and
    dropped at its exit."""
    name = f"pftemplate_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    atexit.register(_drop_at_exit, admin, name)
    db.connect(_pg_url(name))
    db.dispose(_pg_url(name))  # a template must have no connections when it is copied
    return name


@contextlib.contextmanager
def second_database(directory: Path, postgres: bool | None = None, *, migrated: bool = False) -> Iterator[str]:
    """The URL of a new database (PostgreSQL when there is a test server, unless `postgres` is
    False): empty, or at the schema's head when `migrated`."""
    if not (PG_URL if postgres is None else postgres and PG_URL):
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "paperfeed.db"
        if migrated:
            shutil.copyfile(_sqlite_template(), path)
        url = f"sqlite:///{path}"
        yield url
        db.dispose(url)
        return
    name = f"pftest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    template = f' TEMPLATE "{_postgres_template()}"' if migrated else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
    url = _pg_url(name)
    try:
        yield url
    finally:
        db.dispose(url)
        _drop(admin, name)
        admin.dispose()
