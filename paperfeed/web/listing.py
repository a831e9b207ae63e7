"""
What the JSON API and the feeds list, in the API's terms: daily papers chosen by
day, ISO week, month or submitter, sorted and paged; papers by id with the
daily list they came from; the newest papers.

The lists themselves, upvotes (imported + votes) and trending scores come from
`paperfeed.web.queries` and `paperfeed.trending`, exactly as the pages show
them; this module adds the API's paging, its `submitter` filter and its
"every day" listing on top.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, func, or_, select

from paperfeed import trending
from paperfeed.models import DailyEntry, Paper, User
from paperfeed.web import queries
from paperfeed.web.queries import Card


@dataclass(frozen=True)
class DailyQuery:
    start: date | None = None  # inclusive; start and end None: every day
    end: date | None = None  # inclusive
    submitter: str | None = None
    sort: str = "publishedAt"  # or "trending"
    page: int = 0
    limit: int = 50


def daily(engine: Engine, q: DailyQuery, now: datetime | None = None) -> list[Card]:
    """One page of a period's daily papers: newest day first and most upvoted first
    within a day (`publishedAt`), or by trending score.  A paper listed on several
    days of the period appears once.  Without a period: the newest days, or what is
    trending now."""
    wanted = (q.page + 1) * q.limit
    if q.start is None and q.sort == "trending":
        cards = trending_cards(engine, wanted)  # what is trending now, as on the trending page
        if q.submitter:
            cards = [c for c in cards if c.submitter == q.submitter]
        return cards[q.page * q.limit : wanted]
    with engine.connect() as conn:
        if q.start is not None and q.end is not None:
            cards = _period(conn, q, q.start, q.end, now)
        else:
            cards = _recent_days(conn, q, wanted, now)
    return cards[q.page * q.limit : wanted]


def _period(conn: Connection, q: DailyQuery, first: date, last: date, now: datetime | None) -> list[Card]:
    sort = "trending" if q.sort == "trending" else "upvotes"
    cards = queries.daily_cards(conn, first, last, sort=sort, now=now)
    if q.submitter:
        cards = [c for c in cards if c.submitter == q.submitter]
    if q.sort != "trending":  # stable: upvote order is kept within a day
        cards.sort(key=lambda c: c.day or date.min, reverse=True)
    return cards


def _recent_days(conn: Connection, q: DailyQuery, wanted: int, now: datetime | None) -> list[Card]:
    """Enough of the newest days (with the submitter's entries) to fill the requested page."""
    days = entry_counts_by_day(conn, q.submitter)  # newest first
    total, first = 0, None
    for day, count in days:  # counts over-estimate (a paper on two days is listed once): safe
        total, first = total + count, day
        if total >= wanted:
            break
    return _period(conn, q, first, days[0][0], now) if first else []


def entry_counts_by_day(conn: Connection, submitter: str | None = None) -> list[tuple[date, int]]:
    """(day, visible entries) for every day with entries, newest first; only the
    entries of `submitter` (a username or an imported submitter name) when given."""
    stmt = (
        select(DailyEntry.day, func.count())
        .where(DailyEntry.hidden.is_(False))
        .group_by(DailyEntry.day)
        .order_by(DailyEntry.day.desc())
    )
    if submitter:
        stmt = stmt.outerjoin(User, User.id == DailyEntry.submitted_by_user).where(
            or_(User.username == submitter, DailyEntry.submitted_by_name == submitter)
        )
    return [(day, n) for day, n in conn.execute(stmt)]


def trending_cards(engine: Engine, limit: int) -> list[Card]:
    """The trending papers (as on the trending page), best first, with their daily entries."""
    ranked = trending.trending(engine, limit=limit)
    cards = papers(engine, [arxiv_id for arxiv_id, _ in ranked])
    for card, (_, score) in zip(cards, ranked, strict=False):
        card.score = score
    return cards


def papers(engine: Engine, arxiv_ids: Iterable[str]) -> list[Card]:
    """Cards for the stored papers among `arxiv_ids`, in order, each with the first
    visible daily list it was on (its day and submitter), if any."""
    with engine.connect() as conn:
        cards = queries.paper_cards(conn, list(dict.fromkeys(arxiv_ids)))
        first = first_entries(conn, [c.arxiv_id for c in cards])
    for card in cards:
        if card.arxiv_id in first:
            card.day, card.submitter = first[card.arxiv_id]
    return cards


def first_entries(conn: Connection, arxiv_ids: list[str]) -> dict[str, tuple[date, str | None]]:
    """(day, submitter) of each paper's earliest visible daily entry: its submission."""
    if not arxiv_ids:
        return {}
    submitter = func.coalesce(User.username, DailyEntry.submitted_by_name)
    stmt = (
        select(DailyEntry.arxiv_id, DailyEntry.day, submitter)
        .outerjoin(User, User.id == DailyEntry.submitted_by_user)
        .where(DailyEntry.arxiv_id.in_(arxiv_ids), DailyEntry.hidden.is_(False))
        .order_by(DailyEntry.day.desc())
    )
    return {arxiv_id: (day, by) for arxiv_id, day, by in conn.execute(stmt)}  # earliest wins


def recent_papers(engine: Engine, limit: int) -> list[Card]:
    """The most recently published papers (the search endpoint without a query)."""
    with engine.connect() as conn:
        newest = conn.execute(
            select(Paper.arxiv_id)
            .order_by(Paper.published.desc().nulls_last(), Paper.arxiv_id.desc())
            .limit(limit)
        ).scalars()
        ids = list(newest)
    return papers(engine, ids)


def submitted_at(card: Card) -> datetime | None:
    """When the paper joined its daily list: the list's day (entries have no time)."""
    return trending.day_start(card.day) if card.day else None


def latest_day(engine: Engine) -> date | None:
    with engine.connect() as conn:
        return queries.latest_day(conn)
