"""
The database the API and feed tests read: the bundled sample corpus (200 Kaggle
papers, the Hugging Face list of 2026-10-03) plus three daily entries on other
days (one with an old-style id, two with submitters) and two users' votes.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from paperfeed.ingest.run import ingest_sources
from paperfeed.models import User, Vote
from paperfeed.ops.demo import SAMPLES

SAMPLE_DAILY = SAMPLES / "hf-daily-papers-sample.json"
SAMPLE_DAY = date(2026, 10, 3)
VOTED = "2609.22753"  # first paper of the sample list (imported upvotes 0)

EXTRA = [  # the live /api/daily_papers shape
    {
        "paper": {
            "id": "hep-th/9901001",
            "title": "Old-style identifiers & <strings>",
            "authors": [{"name": "Ann Old"}, {"name": "Bo String"}],
            "summary": "An abstract about strings, with <angle brackets> & ampersands.",
            "publishedAt": "1999-01-04T00:00:00.000Z",
            "upvotes": 7,
        },
        "submittedOnDailyAt": "2026-09-29T00:00:00.000Z",
        "submittedOnDailyBy": {"user": "alice", "fullname": "Alice A."},
        "title": "Old-style identifiers & <strings>",
    },
    {
        "paper": {
            "id": "2609.11111",
            "title": "A September paper on sparse attention",
            "authors": [{"name": "Cy September"}],
            "summary": "Sparse attention for long documents, measured.",
            "publishedAt": "2026-09-10T00:00:00.000Z",
            "upvotes": 3,
        },
        "submittedOnDailyAt": "2026-09-15T00:00:00.000Z",
        "submittedOnDailyBy": {"user": "bob"},
        "title": "A September paper on sparse attention",
    },
    {
        "paper": {
            "id": "2610.22222",
            "title": "Week forty-one",
            "authors": [{"name": "Di October"}, {"name": "Ed October"}],
            "summary": "A paper listed on the Monday after the sample list.",
            "publishedAt": "2026-10-02T00:00:00.000Z",
            "upvotes": 2,
        },
        "submittedOnDailyAt": "2026-10-05T00:00:00.000Z",
        "title": "Week forty-one",
    },
]


def sample_papers() -> list[dict]:
    return json.loads(SAMPLE_DAILY.read_text())["papers"]


def load(engine: Engine, tmp_path: Path) -> None:
    extra = tmp_path / "extra-daily.json"
    extra.write_text(json.dumps(EXTRA))
    sources = [str(SAMPLES / "arxiv-kaggle-sample.jsonl"), str(SAMPLE_DAILY), str(extra)]
    summary = ingest_sources(sources, engine=engine)
    assert summary.rejected == 0 and not summary.failed_inputs, summary.line()
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        users = [User(username=name, role="reader", created_at=now) for name in ("voter1", "voter2")]
        s.add_all(users)
        s.flush()
        s.add_all(Vote(user_id=u.id, arxiv_id=VOTED, created_at=now) for u in users)
