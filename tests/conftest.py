"""
Fixtures that build real databases.

Every test that takes `engine` (or `db_url`) runs against a fresh database at the
schema's head: a SQLite file in a temporary directory by default, or a fresh PostgreSQL database when
`PAPERFEED_TEST_POSTGRES_URL` points at a server (`make test` starts one and runs
the suite once per database). The PostgreSQL pass runs only the tests that touch
a database (they take `db_url` or `empty_db_url`, or are marked `database`): the rest would repeat
the SQLite pass exactly. `PAPERFEED_TEST_POSTGRES_ALL=1` runs every test there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paperfeed import db
from paperfeed.ops.demo import SAMPLES
from tests.databases import PG_URL, second_database


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "database: the test reaches a database without the db_url fixture (runs on PostgreSQL too)")


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL pass, leave out the tests that never reach the database under test."""
    if not PG_URL or os.environ.get("PAPERFEED_TEST_POSTGRES_ALL", "") not in ("", "0"):
        return
    keep, same_on_sqlite = [], []
    for item in items:
        names = getattr(item, "fixturenames", ())
        touches = "db_url" in names or "empty_db_url" in names or item.get_closest_marker("database")
        (keep if touches else same_on_sqlite).append(item)
    if same_on_sqlite:
        config.hook.pytest_deselected(items=same_on_sqlite)
        items[:] = keep


def shared_data(name: str) -> Path:
    """A file of the real sample data, as the package ships it (copied from ../shared/data)."""
    path = SAMPLES / name
    assert path.exists(), f"sample data {path} missing from the package"
    return path


@pytest.fixture(autouse=True)
def no_recorded_listen_address(monkeypatch):
    """`paperfeed serve` records its listen address in the environment for its workers
    (`siteurl.listening`); a test that starts a server in-process must not leave it to
    the tests after it, whose links would then depend on the order tests run in."""
    from paperfeed.siteurl import LISTEN_ENV

    monkeypatch.setenv(LISTEN_ENV, "")  # empty reads as unset; restored to unset afterwards


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(path))
    return path


@pytest.fixture
def db_url(data_dir, monkeypatch):
    """paperfeed's database for the test, already at the schema's head (from a template)."""
    with second_database(data_dir, migrated=True) as url:
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
        yield url


@pytest.fixture
def empty_db_url(data_dir, monkeypatch):
    """paperfeed's database for the test, empty: for tests of what migrating does (its own
    directory on SQLite, apart from `db_url`'s file)."""
    with second_database(data_dir / "empty") as url:
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
        yield url


@pytest.fixture
def smtp(monkeypatch, data_dir):
    """A real SMTP server (aiosmtpd on loopback) that paperfeed's settings point at."""
    from tests.mailserver import MailServer

    with MailServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def engine(db_url):
    return db.connect(db_url)  # disposed with its database (db_url)


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """No politeness delay to remote sources; every wait the HTTP client would sleep is recorded."""
    from paperfeed.ingest import http

    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "0")
    recorded: list[float] = []
    monkeypatch.setattr(http, "SLEEP", recorded.append)
    monkeypatch.setattr(http, "_last_request", {})
    return recorded
