"""
Upvotes as the site counts them: a paper's upvotes are those imported with its
daily-list entry (Hugging Face's count; the largest, when a paper is on several
lists) plus the votes of this site's users.  Also which papers a reader voted for.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from paperfeed.models import DailyEntry, Vote

entries = DailyEntry.__table__
votes = Vote.__table__


def vote_counts(conn: Connection, ids: list[str]) -> dict[str, int]:
    """This site's votes per paper (papers without votes are left out)."""
    if not ids:
        return {}
    q = select(votes.c.arxiv_id, func.count()).where(votes.c.arxiv_id.in_(ids)).group_by(votes.c.arxiv_id)
    return {a: n for a, n in conn.execute(q)}


def user_votes(conn: Connection, user_id: int | None, ids: list[str]) -> set[str]:
    """The papers among `ids` the reader `user_id` voted for (none for a visitor)."""
    if user_id is None or not ids:
        return set()
    q = select(votes.c.arxiv_id).where(votes.c.user_id == user_id, votes.c.arxiv_id.in_(ids))
    return set(conn.execute(q).scalars())


def imported_upvotes(conn: Connection, ids: list[str]) -> dict[str, int]:
    """The largest imported upvote count of each paper's daily entries."""
    if not ids:
        return {}
    q = (
        select(entries.c.arxiv_id, func.max(entries.c.imported_upvotes))
        .where(entries.c.arxiv_id.in_(ids))
        .group_by(entries.c.arxiv_id)
    )
    return {a: n or 0 for a, n in conn.execute(q)}


def upvotes(conn: Connection, arxiv_id: str) -> int:
    """One paper's upvotes: imported plus this site's votes."""
    return imported_upvotes(conn, [arxiv_id]).get(arxiv_id, 0) + vote_counts(conn, [arxiv_id]).get(arxiv_id, 0)
