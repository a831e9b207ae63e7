"""
Listing a reader's library: filtered, sorted, one bounded page at a time.

Filters: a collection (id or slug), a category (`cs.CL`, or a whole archive
such as `cs`, matched against every category of the paper, cross-lists
included), and a saved-date range (`saved_from` inclusive, `saved_to`
exclusive).  Sorts: `saved` (newest first), `published` (newest first, papers
without a date last) or `title` (A to Z).  `limit` is capped at `MAX_LIMIT`.

`public_page` lists a public collection for anyone: the same items without the
owner's notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import Text, cast, func, or_, select

from paperfeed.library import collection as coll
from paperfeed.library.errors import LibraryError
from paperfeed.library.saved import _memberships, members, papers, saved

MAX_LIMIT = 200
SORTS = ("saved", "published", "title")
_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")


@dataclass
class SavedItem:
    arxiv_id: str
    title: str | None
    authors: list[str]
    primary_category: str | None
    categories: list[str]
    published: datetime | None
    note: str
    saved_at: datetime
    collections: list[int] = field(default_factory=list)  # ids of the reader's collections holding it


@dataclass
class SavedPage:
    total: int  # items matching the filters, across pages
    items: list[SavedItem]
    limit: int
    offset: int


def _instant(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


def category_filter(category: str):
    """A WHERE clause: the paper lists `category` (or, for an archive like `cs`, one of its categories).

    The JSON list is matched as text (`"cs.CL"` with its quotes), which reads the
    same on SQLite and PostgreSQL; categories are checked to hold no LIKE wildcards.
    """
    if not _CATEGORY.match(category):
        raise LibraryError(f"{category[:40]!r} is not an arXiv category such as cs.CL or hep-th")
    text = cast(papers.c.categories, Text)
    clauses = [text.like(f'%"{category}"%')]
    if "." not in category:
        clauses.append(text.like(f'%"{category}.%'))
    return or_(*clauses)


def list_saved(
    conn,
    user_id: int,
    *,
    collection: int | str | None = None,
    category: str | None = None,
    saved_from: date | datetime | None = None,
    saved_to: date | datetime | None = None,
    sort: str = "saved",
    limit: int = 50,
    offset: int = 0,
    notes: bool = True,
) -> SavedPage:
    """One page of the reader's saved papers; NotFound for a collection they do not have."""
    if sort not in SORTS:
        raise LibraryError(f"sort must be one of {', '.join(SORTS)}")
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    query = select(saved, papers.c.title, papers.c.authors, papers.c.primary_category,
                   papers.c.categories, papers.c.published).join(papers, papers.c.arxiv_id == saved.c.arxiv_id)
    query = query.where(saved.c.user_id == user_id)
    if collection is not None:
        found = coll.resolve(conn, user_id, collection)
        query = query.join(members, (members.c.arxiv_id == saved.c.arxiv_id) & (members.c.collection_id == found.id))
    if category:
        query = query.where(category_filter(category))
    if saved_from is not None:
        query = query.where(saved.c.saved_at >= _instant(saved_from))
    if saved_to is not None:
        query = query.where(saved.c.saved_at < _instant(saved_to))
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    if sort == "saved":
        order = [saved.c.saved_at.desc(), saved.c.arxiv_id]
    elif sort == "published":
        order = [papers.c.published.desc().nulls_last(), saved.c.arxiv_id]
    else:
        order = [func.lower(func.coalesce(papers.c.title, saved.c.arxiv_id)), saved.c.arxiv_id]
    rows = conn.execute(query.order_by(*order).limit(limit).offset(offset)).all()
    where = _memberships(conn, user_id, [r.arxiv_id for r in rows])
    items = [
        SavedItem(
            arxiv_id=r.arxiv_id, title=r.title, authors=list(r.authors or []), primary_category=r.primary_category,
            categories=list(r.categories or []), published=r.published, note=r.note if notes else "",
            saved_at=r.saved_at, collections=where.get(r.arxiv_id, []),
        )
        for r in rows
    ]
    return SavedPage(total, items, limit, offset)


def public_page(conn, username: str, slug: str, **options) -> tuple[coll.CollectionInfo, SavedPage] | None:
    """A public collection and one page of its papers, without notes; None when not public."""
    found = coll.public_collection(conn, username, slug)
    if found is None:
        return None
    options.pop("notes", None)
    page = list_saved(conn, found.user_id, collection=found.id, notes=False, **options)
    for item in page.items:
        item.collections = [found.id]  # the owner's other collections are theirs alone
    return found, page
