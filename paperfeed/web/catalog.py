"""
The stored papers themselves, outside any list: one paper's full row (its page,
the submit form) and the primary categories there are (the search form's choices).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from paperfeed.models import Paper

papers = Paper.__table__


def get_paper(conn: Connection, arxiv_id: str):
    """The paper's row, every column, or None when it is not stored."""
    return conn.execute(select(papers).where(papers.c.arxiv_id == arxiv_id)).first()


def categories(conn: Connection, limit: int = 300) -> list[str]:
    """The primary categories of the stored papers, sorted."""
    q = (
        select(papers.c.primary_category)
        .where(papers.c.primary_category.is_not(None))
        .group_by(papers.c.primary_category)
        .order_by(papers.c.primary_category)
        .limit(limit)
    )
    return list(conn.execute(q).scalars())
