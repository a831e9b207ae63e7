"""
Trending: which papers are collecting upvotes now.

Every upvote decays exponentially with its age (Newton's law of cooling, the
"half-life" form used by e.g. Reddit-style hot rankings, without a vote-count
logarithm):

    score(paper, t) = Σ over upvotes v of 2 ** (-(t - t_v) / H)

where `t` is the moment of ranking, `t_v` the moment of upvote `v` (an upvote
cast "in the future" of `t` counts fully) and `H` the half-life in hours
(setting `trending_half_life_hours`, default 24: a day-old upvote counts ½, a
two-day-old one ¼).  Upvotes imported with a daily list (Hugging Face's counts)
have no individual times: they count as cast at 00:00 UTC of the entry's day.
Hence, at equal upvotes a newer paper beats an older one, at equal age more
upvotes beat fewer, and a paper that keeps getting upvotes stays up.

`trending()` ranks the papers with upvotes in a time window (the trending page
and the daily digest use the last `trending_days` days).  Papers a curator hid
from a daily list in that window are left out.  Scores are also available as
base-2 logarithms (`log_score`), which never underflow, for sorting old lists.

Trending knows only papers with upvotes, so on a quiet day it is short or
empty; `daily_list()` gives the papers listed on some days, in list order, for
the digest to fill with.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, select

from paperfeed import settings
from paperfeed.categories import any_match
from paperfeed.models import DailyEntry, Paper, Vote

entries = DailyEntry.__table__
votes = Vote.__table__
papers = Paper.__table__


def half_life_hours() -> float:
    return max(settings.get_float("trending_half_life_hours"), 0.01)


def day_start(day: date) -> datetime:
    """The moment an imported upvote of `day`'s list counts as cast."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def log_score(times: Iterable[tuple[datetime, int]], now: datetime, half_life: float | None = None) -> float:
    """log2 of the score of upvotes given as (moment, how many); -inf when there are none.

    Computed as a log-sum-exp so that lists years old still sort correctly.
    """
    h = half_life or half_life_hours()
    exponents = [
        (-max((now - at).total_seconds(), 0.0) / 3600.0 / h, n) for at, n in times if n > 0
    ]
    if not exponents:
        return -math.inf
    top = max(e for e, _ in exponents)
    return top + math.log2(sum(n * 2.0 ** (e - top) for e, n in exponents))


def score(times: Iterable[tuple[datetime, int]], now: datetime, half_life: float | None = None) -> float:
    """The trending score of upvotes given as (moment, how many) at moment `now`."""
    value = log_score(times, now, half_life)
    return 0.0 if value == -math.inf else 2.0**value


def _as_moment(value: date | datetime, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return day_start(value + timedelta(days=1)) if end else day_start(value)


def upvote_times(
    conn: Connection, since: datetime, until: datetime, arxiv_ids: Iterable[str] | None = None
) -> tuple[dict[str, list[tuple[datetime, int]]], set[str]]:
    """Upvote moments per paper in [since, until], and the papers hidden in that window."""
    times: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    hidden: set[str] = set()
    q = select(entries.c.arxiv_id, entries.c.day, entries.c.imported_upvotes, entries.c.hidden).where(
        entries.c.day >= since.date(), entries.c.day <= until.date()
    )
    v = select(votes.c.arxiv_id, votes.c.created_at).where(
        votes.c.created_at >= since, votes.c.created_at <= until
    )
    if arxiv_ids is not None:
        wanted = list(arxiv_ids)
        q = q.where(entries.c.arxiv_id.in_(wanted))
        v = v.where(votes.c.arxiv_id.in_(wanted))
    for row in conn.execute(q):
        if row.hidden:
            hidden.add(row.arxiv_id)
        elif since <= day_start(row.day) <= until:
            times[row.arxiv_id].append((day_start(row.day), row.imported_upvotes))
    for row in conn.execute(v):
        times[row.arxiv_id].append((row.created_at, 1))
    return times, hidden


def in_categories(conn: Connection, arxiv_ids: list[str], wanted: Sequence[str]) -> set[str]:
    """Those of `arxiv_ids` in any of the `wanted` categories (`paperfeed.categories`)."""
    found: set[str] = set()
    for start in range(0, len(arxiv_ids), 500):
        part = arxiv_ids[start : start + 500]
        rows = conn.execute(select(papers.c.arxiv_id, papers.c.categories).where(papers.c.arxiv_id.in_(part)))
        found.update(a for a, cats in rows if any_match(cats or [], wanted))
    return found


def trending(
    engine: Engine | Connection,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    limit: int = 20,
    categories: Sequence[str] = (),
) -> list[tuple[str, float]]:
    """The `limit` papers with the highest score at `until` (default now) from upvotes
    cast in [since, until] (default: the last `trending_days` days), best first;
    only papers in `categories` when given (`cs` for every `cs.*`).

    Dates mean whole days: `since=date(2026, 10, 1)` starts at its 00:00 UTC,
    `until=date(2026, 10, 3)` ends at the end of that day.
    """
    end = _as_moment(until, end=True) if until is not None else datetime.now(UTC)
    start = (
        _as_moment(since, end=False)
        if since is not None
        else end - timedelta(days=settings.get_int("trending_days"))
    )
    with _connection(engine) as conn:
        times, hidden = upvote_times(conn, start, end)
        kept = in_categories(conn, list(times), categories) if categories else None
    ranked = []
    for arxiv_id, marks in times.items():
        if arxiv_id in hidden or (kept is not None and arxiv_id not in kept):
            continue
        value = score(marks, end)
        if value > 0:
            total = sum(n for _, n in marks)
            ranked.append((-value, -total, arxiv_id, value))
    ranked.sort()
    return [(arxiv_id, value) for _, _, arxiv_id, value in ranked[:limit]]


@contextmanager
def _connection(engine: Engine | Connection) -> Iterator[Connection]:
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            yield conn
    else:
        yield engine


def daily_list(engine: Engine | Connection, first: date, last: date, limit: int = 60) -> list[tuple[str, date]]:
    """Up to `limit` (arxiv_id, day) listed from day `first` to `last`, as a reader sees them:
    pinned first, then the newest day first, each day in list order; hidden papers left out."""
    q = (
        select(entries.c.arxiv_id, entries.c.day, entries.c.pinned, entries.c.hidden)
        .where(entries.c.day >= first, entries.c.day <= last)
        .order_by(entries.c.day.desc(), entries.c.id)
    )
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(q).all()
    else:
        rows = engine.execute(q).all()
    hidden = {r.arxiv_id for r in rows if r.hidden}
    pinned = {r.arxiv_id for r in rows if r.pinned}
    listed: dict[str, date] = {}
    for r in rows:  # a paper on several days counts once, on its newest day
        if r.arxiv_id not in hidden:
            listed.setdefault(r.arxiv_id, r.day)
    ordered = sorted(listed.items(), key=lambda item: item[0] not in pinned)  # stable: list order kept
    return ordered[:limit]
