"""
The daily lists' entries, apart from the papers on them: which days have a
list (the latest, the neighbours of a period, how many entries each day), the
lists a paper is on and its first one (its submission), how many papers a
reader submitted on a day.

Hidden entries count only where a curator may see them (a paper's own list of
days); everywhere else they are left out.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, func, or_, select

from paperfeed.models import DailyEntry, User

entries = DailyEntry.__table__
users = User.__table__


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


def first_entries(conn: Connection, arxiv_ids: list[str]) -> dict[str, tuple[date, str | None, datetime]]:
    """(day, submitter, created_at) of each paper's earliest visible daily entry: its submission."""
    if not arxiv_ids:
        return {}
    submitter = func.coalesce(User.username, DailyEntry.submitted_by_name)
    stmt = (
        select(DailyEntry.arxiv_id, DailyEntry.day, submitter, DailyEntry.created_at)
        .outerjoin(User, User.id == DailyEntry.submitted_by_user)
        .where(DailyEntry.arxiv_id.in_(arxiv_ids), DailyEntry.hidden.is_(False))
        .order_by(DailyEntry.day.desc())
    )
    return {arxiv_id: (day, by, made) for arxiv_id, day, by, made in conn.execute(stmt)}  # earliest wins


def submissions_on(conn: Connection, user_id: int, day: date) -> int:
    """How many papers the reader `user_id` added to the list of `day`."""
    q = select(func.count()).select_from(entries).where(
        entries.c.submitted_by_user == user_id, entries.c.day == day
    )
    return conn.execute(q).scalar_one()

