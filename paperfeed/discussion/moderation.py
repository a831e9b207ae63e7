"""
Keeping the discussion civil: readers report comments, curators hide them.

Any signed-in reader reports a comment once (`comment_reports`, one row per
reader and comment, with an optional reason).  Open reports make the
moderation queue, one entry per reported comment, most reported first.  A
curator hides the comment (it disappears for everyone but curators and is no
longer counted, and its open reports are closed as `hidden`) or dismisses its
reports (closed as `dismissed`; the comment stays).  Hiding is undone with
`unhide`; closed reports stay closed, so a dismissed report does not come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.discussion.comments import NotAllowed, NotFound, View, comments, get
from paperfeed.models import CommentReport, Paper

reports = CommentReport.__table__
papers = Paper.__table__
MAX_REASON = 500


@dataclass
class Reported:
    """One entry of the moderation queue."""

    comment: View
    paper_title: str
    reports: int
    reasons: list[str]
    first_reported: datetime


def report(conn: Connection, comment_id: int, user_id: int, reason: str = "", now: datetime | None = None) -> bool:
    """Report a visible comment; False when this reader had reported it already."""
    found = get(conn, comment_id)
    if found is None or found.deleted or found.hidden:
        raise NotFound("That comment is no longer there.")
    if found.user_id == user_id:
        raise NotAllowed("You cannot report your own comment; you can edit or delete it.")
    try:
        with conn.begin_nested():
            conn.execute(reports.insert().values(
                comment_id=comment_id, user_id=user_id, reason=reason.replace("\x00", "").strip()[:MAX_REASON],
                created_at=now or datetime.now(UTC),
            ))
    except IntegrityError:
        return False
    return True


def _close(conn: Connection, comment_id: int, curator_id: int, resolution: str, now: datetime) -> int:
    return conn.execute(
        update(reports).where(reports.c.comment_id == comment_id, reports.c.resolved_at.is_(None))
        .values(resolved_at=now, resolution=resolution, resolved_by=curator_id)
    ).rowcount


def hide(conn: Connection, comment_id: int, curator_id: int, now: datetime | None = None) -> View:
    """Hide a comment from everyone but curators, closing its open reports."""
    now = now or datetime.now(UTC)
    found = get(conn, comment_id)
    if found is None or found.deleted:
        raise NotFound("That comment is no longer there.")
    if not found.hidden:
        conn.execute(update(comments).where(comments.c.id == comment_id).values(hidden_at=now, hidden_by=curator_id))
    _close(conn, comment_id, curator_id, "hidden", now)
    return found


def unhide(conn: Connection, comment_id: int) -> View:
    found = get(conn, comment_id)
    if found is None or found.deleted:
        raise NotFound("That comment is no longer there.")
    conn.execute(update(comments).where(comments.c.id == comment_id).values(hidden_at=None, hidden_by=None))
    return found


def dismiss(conn: Connection, comment_id: int, curator_id: int, now: datetime | None = None) -> int:
    """Close the comment's open reports, keeping the comment; how many were open."""
    if get(conn, comment_id) is None:
        raise NotFound("That comment is no longer there.")
    return _close(conn, comment_id, curator_id, "dismissed", now or datetime.now(UTC))


def queue_size(conn: Connection) -> int:
    """Comments with open reports."""
    q = select(func.count(func.distinct(reports.c.comment_id))).where(reports.c.resolved_at.is_(None))
    return conn.execute(q).scalar() or 0


def queue(conn: Connection, offset: int = 0, limit: int = 50) -> list[Reported]:
    """A page of the moderation queue: reported comments, most open reports first, then oldest."""
    open_ = reports.c.resolved_at.is_(None)
    counted = conn.execute(
        select(reports.c.comment_id, func.count().label("n"), func.min(reports.c.created_at).label("first"))
        .where(open_).group_by(reports.c.comment_id)
        .order_by(func.count().desc(), func.min(reports.c.created_at), reports.c.comment_id)
        .offset(offset).limit(limit)
    ).all()
    ids = [r.comment_id for r in counted]
    reasons: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        q = select(reports.c.comment_id, reports.c.reason).where(open_, reports.c.comment_id.in_(ids), reports.c.reason != "")
        for comment_id, reason in conn.execute(q.order_by(reports.c.created_at)):
            reasons[comment_id].append(reason)
    out = []
    for row in counted:
        found = get(conn, row.comment_id)
        if found is None:
            continue
        title = conn.execute(select(papers.c.title).where(papers.c.arxiv_id == found.arxiv_id)).scalar()
        out.append(Reported(found, title or found.arxiv_id, row.n, reasons[row.comment_id][:10], row.first))
    return out
