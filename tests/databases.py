"""
A new, empty database for a test (the `db_url` fixture, and tests that copy or
restore into a second one): a SQLite file in a directory, or a fresh PostgreSQL
database on the test server when `PAPERFEED_TEST_POSTGRES_URL` is set (dropped
afterwards).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from paperfeed import db

PG_URL = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")


@contextlib.contextmanager
def second_database(directory: Path, postgres: bool | None = None) -> Iterator[str]:
    """The URL of a new empty database (PostgreSQL when there is a test server, unless `postgres` is False)."""
    if not (PG_URL if postgres is None else postgres and PG_URL):
        directory.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{directory / 'paperfeed.db'}"
        yield url
        db.dispose(url)
        return
    name = f"pftest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        db.dispose(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
