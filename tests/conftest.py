"""
Fixtures that build real databases.

Every test that takes `engine` runs against a fresh, migrated database: a SQLite
file in a temporary directory by default, or a fresh PostgreSQL database when
`PAPERFEED_TEST_POSTGRES_URL` points at a server (`make test` starts one and runs
the suite once per database).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from paperfeed import db

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "paperfeed" / "data"
PG_URL = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")


def shared_data(name: str) -> Path:
    """A file of the real sample data, as the package ships it (copied from ../shared/data)."""
    path = PACKAGE_DATA / name
    assert path.exists(), f"sample data {path} missing from the package"
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(path))
    return path


@pytest.fixture
def db_url(data_dir, monkeypatch):
    if not PG_URL:
        url = f"sqlite:///{data_dir / 'paperfeed.db'}"
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
        yield url
        return
    name = f"pftest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
    yield url
    db.dispose(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url):
    engine = db.connect(db_url)
    yield engine
    db.dispose(db_url)


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """No politeness delay to remote sources; every wait the HTTP client would sleep is recorded."""
    from paperfeed.ingest import http

    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "0")
    recorded: list[float] = []
    monkeypatch.setattr(http, "SLEEP", recorded.append)
    monkeypatch.setattr(http, "_last_request", {})
    return recorded
