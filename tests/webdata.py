"""
Helpers for the web tests: papers and daily entries written through the real
upsert, an in-process client for the real app, and signed-in sessions made the
way a browser makes them (GET a form, POST it with its CSRF token).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from paperfeed.ingest.records import DailyInfo, PaperRecord
from paperfeed.ingest.upsert import write_batch
from paperfeed.models import Vote
from paperfeed.web import accounts
from paperfeed.web.app import create_app

TODAY = datetime.now(UTC).date()


def add_paper(
    engine: Engine,
    arxiv_id: str,
    title: str = "A paper",
    *,
    authors: list[str] | None = None,
    abstract: str = "An abstract about learning.",
    published: datetime | None = None,
    day: date | None = None,
    upvotes: int = 0,
    submitted_by: str | None = None,
    categories: list[str] | None = None,
) -> None:
    published = published or datetime.now(UTC) - timedelta(days=1)
    categories = categories or ["cs.LG"]
    record = PaperRecord(
        arxiv_id=arxiv_id,
        source="test",
        version=2,
        versions=[(1, published), (2, published + timedelta(days=3))],
        title=title,
        authors=authors or ["Ada Lovelace", "Alan Turing"],
        abstract=abstract,
        primary_category=categories[0],
        categories=categories,
        published=published,
        updated=published,
        daily=DailyInfo(day, upvotes, submitted_by) if day else None,
    )
    write_batch(engine, [record])


def add_vote(engine: Engine, user_id: int, arxiv_id: str, at: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Vote.__table__).values(user_id=user_id, arxiv_id=arxiv_id, created_at=at or datetime.now(UTC))
        )


def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine), raise_server_exceptions=False)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf(c: TestClient, path: str = "/login") -> str:
    return soup(c.get(path)).find("input", {"name": "csrf_token"})["value"]


def sign_in(c: TestClient, engine: Engine, username: str = "reader", role: str = "reader") -> int:
    """Create `username` (password "correct horse") and log `c` in as them."""
    uid = accounts.create_user(engine, username, "correct horse", role=role)
    r = c.post(
        "/login",
        data={"username": username, "password": "correct horse", "csrf_token": csrf(c)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return uid
