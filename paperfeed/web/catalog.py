"""
The stored papers themselves, outside any list: one paper's full row (its page,
the submit form) and the primary categories there are (the search form's choices).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from paperfeed import ids
from paperfeed.models import Paper
from paperfeed.web.security import FriendlyError

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


def stored_id(engine: Engine, text: str) -> str:
    """The canonical id of a stored paper named in a form, or the page that says why not
    (400 for what is no arXiv id, 404 for a paper this site does not hold)."""
    try:
        canon = ids.canonical(text)
    except ids.BadArxivId:
        raise FriendlyError(400, "That is not an arXiv identifier.") from None
    with engine.connect() as conn:
        if get_paper(conn, canon) is None:
            raise FriendlyError(404, "No such paper is stored here.", "Paper not found")
    return canon
