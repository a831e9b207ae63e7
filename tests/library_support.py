"""
Shared set-up for the library tests: the bundled Kaggle sample (200 real papers,
0704.0001-0704.0200 and a few old-style ids) in a fresh database, and readers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

import paperfeed
from paperfeed.ingest.run import ingest_sources
from paperfeed.models import User

KAGGLE = Path(paperfeed.__file__).parent / "data" / "arxiv-kaggle-sample.jsonl"
FIXTURES = Path(__file__).parent / "fixtures" / "library"
T0 = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)


def load_corpus(engine) -> None:
    summary = ingest_sources([str(KAGGLE)], engine=engine)
    assert summary.new == 200, summary.line()


def add_user(engine, username: str, email: str | None = None, **values) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(User).values(
            username=username, email=email or f"{username}@example.org", created_at=T0, **values
        ).returning(User.id)).scalar_one()
