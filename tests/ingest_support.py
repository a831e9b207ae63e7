"""Helpers shared by the ingest tests: quick looks at what was stored, edited fixtures."""

from __future__ import annotations

import orjson
from sqlalchemy import func, select

from paperfeed.models import Paper
from tests.replay import FIXTURES


def paper(engine, arxiv_id: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(Paper).where(Paper.arxiv_id == arxiv_id)).mappings().one())


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Paper)).scalar()


def rejects(data_dir) -> list[dict]:
    path = data_dir / "rejects.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def edited(tmp_path, fixture: str, edit) -> str:
    """A copy of a recorded fixture with `edit(bytes) -> bytes` applied, as a path."""
    path = tmp_path / fixture.replace("/", "_")
    path.write_bytes(edit((FIXTURES / fixture).read_bytes()))
    return str(path)
