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
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from paperfeed import db

PG_URL = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")
_templates: dict[str, str] = {}  # "sqlite" -> template file, "postgres" -> template database name


def _sqlite_template() -> str:
    if "sqlite" not in _templates:
        directory = tempfile.mkdtemp(prefix="paperfeed-template-")
        atexit.register(shutil.rmtree, directory, True)
        path = os.path.join(directory, "paperfeed.db")
        url = f"sqlite:///{path}"
        db.connect(url)
        db.dispose(url)  # closed: the file is whole, no journal beside it
        _templates["sqlite"] = path
    return _templates["sqlite"]


def _postgres_template(admin) -> str:
    if "postgres" not in _templates:
        name = f"pftemplate_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        atexit.register(_drop, name)
        url = PG_URL.rsplit("/", 1)[0] + "/" + name
        db.connect(url)
        db.dispose(url)  # a template must have no connections when it is copied
        _templates["postgres"] = name
    return _templates["postgres"]


def _drop(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with contextlib.suppress(Exception), admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
    template = f' TEMPLATE "{_postgres_template(admin)}"' if migrated else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        db.dispose(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
