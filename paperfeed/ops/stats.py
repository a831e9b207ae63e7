"""
What the database holds, in numbers: the `paperfeed stats` report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from paperfeed import db
from paperfeed.models import DailyEntry, Paper, User, Vote


@dataclass
class Stats:
    database: str
    papers: int = 0
    daily_entries: int = 0
    daily_days: int = 0
    users: int = 0
    votes: int = 0
    first_published: str | None = None
    last_published: str | None = None
    top_categories: list[tuple[str, int]] = field(default_factory=list)


def collect(engine: Engine | None = None) -> Stats:
    engine = engine or db.connect()
    out = Stats(database=engine.url.render_as_string(hide_password=True))
    with engine.connect() as conn:
        out.papers = conn.scalar(select(func.count()).select_from(Paper)) or 0
        out.daily_entries = conn.scalar(select(func.count()).select_from(DailyEntry)) or 0
        out.daily_days = conn.scalar(select(func.count(func.distinct(DailyEntry.day)))) or 0
        out.users = conn.scalar(select(func.count()).select_from(User)) or 0
        out.votes = conn.scalar(select(func.count()).select_from(Vote)) or 0
        first, last = conn.execute(select(func.min(Paper.published), func.max(Paper.published))).one()
        out.first_published = first.date().isoformat() if first else None
        out.last_published = last.date().isoformat() if last else None
        primaries = conn.execute(
            select(Paper.primary_category, func.count())
            .where(Paper.primary_category.is_not(None))
            .group_by(Paper.primary_category)
        )
        out.top_categories = Counter(dict(primaries.all())).most_common(10)
    return out


def render(s: Stats) -> str:
    lines = [
        f"database:       {s.database}",
        f"papers:         {s.papers}",
        f"published:      {s.first_published or '-'} .. {s.last_published or '-'}",
        f"daily entries:  {s.daily_entries} on {s.daily_days} days",
        f"users:          {s.users}",
        f"votes:          {s.votes}",
    ]
    if s.top_categories:
        lines.append("top primary categories:")
        lines += [f"  {cat:<20} {n}" for cat, n in s.top_categories]
    return "\n".join(lines)
