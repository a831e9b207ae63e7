"""The schema's head as `db.connect` knows it without Alembic, and the fast path that uses it."""

from __future__ import annotations

import subprocess
import sys

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from paperfeed import db


def test_head_is_alembics_head():
    scripts = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert scripts.get_heads() == [db.HEAD], "a new migration: set paperfeed.db.HEAD to its revision"


def test_a_database_at_head_connects_without_loading_alembic(db_url):
    db.connect(db_url)
    code = ("import sys; from paperfeed import db; db.connect(); "
            "print('alembic' in sys.modules, db.at_head(db.connect()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_an_older_database_is_still_upgraded(db_url):
    db.connect(db_url)
    db.dispose(db_url)
    command.downgrade(db.alembic_config(db_url), "0008")  # drops users.list_categories, which 0009 adds
    assert not db.at_head(db.make_engine(db_url))
    engine = db.connect(db_url)
    assert db.at_head(engine)
    with engine.connect() as conn:
        assert conn.execute(text("select count(list_categories) from users")).scalar() == 0
