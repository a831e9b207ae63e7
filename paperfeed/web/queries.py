"""
The database questions the pages ask: daily lists with their upvotes, papers by
id, the nearest days with entries, a reader's votes and submissions.

A paper's upvotes are the upvotes imported with its daily-list entry (Hugging
Face's count; the largest, when a paper is on several lists) plus the votes of
this site's users.  Hidden entries are left out unless a curator is looking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import Connection, exists, func, literal, select

from paperfeed import trending
from paperfeed.models import DailyEntry, Paper, User, Vote

papers = Paper.__table__
entries = DailyEntry.__table__
votes = Vote.__table__
users = User.__table__

Sort = Literal["upvotes", "trending", "newest"]
SORTS: tuple[str, ...] = ("upvotes", "trending", "newest")
CARD_COLUMNS = (
    papers.c.arxiv_id,
    papers.c.title,
    papers.c.authors,
    papers.c.abstract,
    papers.c.published,
    papers.c.primary_category,
    papers.c.categories,
)


@dataclass
class Card:
    """One paper as a list shows it."""

    arxiv_id: str
    title: str
    authors: list[str]
    abstract: str
    published: datetime | None
    primary_category: str | None
    categories: list[str] = field(default_factory=list)
    upvotes: int = 0
    voted: bool = False
    submitter: str | None = None
    day: date | None = None
    entry_id: int | None = None
    pinned: bool = False
    hidden: bool = False
    curated: bool = False
    snippet: str | None = None  # search: highlighted abstract, checked by finder.safe_snippet
    title_html: str | None = None  # search: highlighted title, likewise
    score: float | None = None  # trending or search score


def _card(row, **extra) -> Card:
    return Card(
        arxiv_id=row.arxiv_id,
        title=row.title or row.arxiv_id,
        authors=list(row.authors or []),
        abstract=row.abstract or "",
        published=row.published,
        primary_category=row.primary_category,
        categories=list(row.categories or []),
        **extra,
    )


def vote_counts(conn: Connection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    q = select(votes.c.arxiv_id, func.count()).where(votes.c.arxiv_id.in_(ids)).group_by(votes.c.arxiv_id)
    return {a: n for a, n in conn.execute(q)}


def user_votes(conn: Connection, user_id: int | None, ids: list[str]) -> set[str]:
    if user_id is None or not ids:
        return set()
    q = select(votes.c.arxiv_id).where(votes.c.user_id == user_id, votes.c.arxiv_id.in_(ids))
    return set(conn.execute(q).scalars())


def imported_upvotes(conn: Connection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    q = (
        select(entries.c.arxiv_id, func.max(entries.c.imported_upvotes))
        .where(entries.c.arxiv_id.in_(ids))
        .group_by(entries.c.arxiv_id)
    )
    return {a: n or 0 for a, n in conn.execute(q)}


def upvotes(conn: Connection, arxiv_id: str) -> int:
    return imported_upvotes(conn, [arxiv_id]).get(arxiv_id, 0) + vote_counts(conn, [arxiv_id]).get(arxiv_id, 0)


def daily_cards(
    conn: Connection,
    first: date,
    last: date,
    user_id: int | None = None,
    sort: Sort = "upvotes",
    show_hidden: bool = False,
    now: datetime | None = None,
) -> list[Card]:
    """The papers listed from `first` to `last` (inclusive): pinned first, then by `sort`.

    One query: the vote counts and the reader's own votes are correlated subqueries
    (indexed by paper), not separate round trips (issue #4)."""
    submitter = func.coalesce(users.c.username, entries.c.submitted_by_name)
    on_paper = votes.c.arxiv_id == entries.c.arxiv_id
    counted = select(func.count()).where(on_paper).correlate(entries).scalar_subquery()
    if user_id is None:
        mine = literal(False)
    else:
        mine = exists().where(on_paper, votes.c.user_id == user_id).correlate(entries)
    q = (
        select(
            *CARD_COLUMNS,
            entries.c.id.label("entry_id"),
            entries.c.day,
            entries.c.imported_upvotes,
            entries.c.pinned,
            entries.c.hidden,
            entries.c.curated,
            submitter.label("submitter"),
            counted.label("votes"),
            mine.label("mine"),
        )
        .join(papers, papers.c.arxiv_id == entries.c.arxiv_id)
        .outerjoin(users, users.c.id == entries.c.submitted_by_user)
        .where(entries.c.day >= first, entries.c.day <= last)
        .order_by(entries.c.day.desc(), entries.c.id)
    )
    if not show_hidden:
        q = q.where(entries.c.hidden.is_(False))
    best: dict[str, tuple] = {}
    for row in conn.execute(q):
        kept = best.get(row.arxiv_id)  # a paper on several days of a week: its best entry
        if kept is None or (row.pinned, row.imported_upvotes) > (kept.pinned, kept.imported_upvotes):
            best[row.arxiv_id] = row
    cards = []
    for row in best.values():
        cards.append(
            _card(
                row,
                upvotes=row.imported_upvotes + row.votes,
                voted=bool(row.mine),
                submitter=row.submitter,
                day=row.day,
                entry_id=row.entry_id,
                pinned=row.pinned,
                hidden=row.hidden,
                curated=row.curated,
            )
        )
    if sort == "trending":
        _add_trend(conn, cards, now or datetime.now(UTC))
    return sort_cards(cards, sort)


def _add_trend(conn: Connection, cards: list[Card], now: datetime) -> None:
    ids = [c.arxiv_id for c in cards]
    moments: dict[str, list] = {i: [] for i in ids}
    if ids:
        q = select(votes.c.arxiv_id, votes.c.created_at).where(votes.c.arxiv_id.in_(ids))
        for arxiv_id, at in conn.execute(q):
            moments[arxiv_id].append((at, 1))
    for card in cards:
        imported = card.upvotes - len(moments[card.arxiv_id])
        if card.day is not None:
            moments[card.arxiv_id].append((trending.day_start(card.day), imported))
        card.score = trending.log_score(moments[card.arxiv_id], now)


def sort_cards(cards: list[Card], sort: Sort) -> list[Card]:
    def published(c: Card) -> float:
        return c.published.timestamp() if c.published else 0.0

    if sort == "newest":
        key = lambda c: (not c.pinned, -published(c), c.arxiv_id)  # noqa: E731
    elif sort == "trending":
        key = lambda c: (not c.pinned, -(c.score if c.score is not None else -math.inf), -c.upvotes, c.arxiv_id)  # noqa: E731
    else:
        key = lambda c: (not c.pinned, -c.upvotes, -published(c), c.arxiv_id)  # noqa: E731
    return sorted(cards, key=key)


def paper_cards(conn: Connection, ids: list[str], user_id: int | None = None) -> list[Card]:
    """Cards for papers by id, in the order given; unknown ids are skipped."""
    if not ids:
        return []
    rows = {r.arxiv_id: r for r in conn.execute(select(*CARD_COLUMNS).where(papers.c.arxiv_id.in_(ids)))}
    found = [i for i in ids if i in rows]
    counts, imported = vote_counts(conn, found), imported_upvotes(conn, found)
    mine = user_votes(conn, user_id, found)
    return [
        _card(rows[i], upvotes=imported.get(i, 0) + counts.get(i, 0), voted=i in mine) for i in found
    ]


def get_paper(conn: Connection, arxiv_id: str):
    return conn.execute(select(papers).where(papers.c.arxiv_id == arxiv_id)).first()


def paper_entries(conn: Connection, arxiv_id: str) -> list:
    """The daily lists a paper is on, newest first, with who submitted it."""
    submitter = func.coalesce(users.c.username, entries.c.submitted_by_name)
    q = (
        select(entries.c.id, entries.c.day, entries.c.hidden, entries.c.pinned, submitter.label("submitter"))
        .outerjoin(users, users.c.id == entries.c.submitted_by_user)
        .where(entries.c.arxiv_id == arxiv_id)
        .order_by(entries.c.day.desc())
    )
    return list(conn.execute(q))


def latest_day(conn: Connection, on_or_before: date | None = None) -> date | None:
    """The latest day with visible entries (on or before a day, when given)."""
    q = select(func.max(entries.c.day)).where(entries.c.hidden.is_(False))
    if on_or_before is not None:
        q = q.where(entries.c.day <= on_or_before)
    return conn.execute(q).scalar()


def neighbour_days(conn: Connection, first: date, last: date) -> tuple[date | None, date | None]:
    """The nearest days with visible entries before `first` and after `last`."""
    visible = entries.c.hidden.is_(False)
    before = select(func.max(entries.c.day)).where(visible, entries.c.day < first).scalar_subquery()
    after = select(func.min(entries.c.day)).where(visible, entries.c.day > last).scalar_subquery()
    row = conn.execute(select(before.label("before"), after.label("after"))).one()
    return row.before, row.after


def categories(conn: Connection, limit: int = 300) -> list[str]:
    q = (
        select(papers.c.primary_category)
        .where(papers.c.primary_category.is_not(None))
        .group_by(papers.c.primary_category)
        .order_by(papers.c.primary_category)
        .limit(limit)
    )
    return list(conn.execute(q).scalars())


def submissions_on(conn: Connection, user_id: int, day: date) -> int:
    q = select(func.count()).select_from(entries).where(
        entries.c.submitted_by_user == user_id, entries.c.day == day
    )
    return conn.execute(q).scalar_one()


def entry(conn: Connection, entry_id: int):
    return conn.execute(select(entries).where(entries.c.id == entry_id)).first()
