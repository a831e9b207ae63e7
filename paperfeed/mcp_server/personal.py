"""
The tools that read one reader's own data, with their access token
(`site.reader`): their collections, their saved papers, and "For you".

They only read: saving, dismissing and following stay on the site and in the
library's JSON API.  For you ranks as the `/for-you` page does
(`recommend.source.window`, `source.profile`, `source.rank`), each paper
with the why-lines of that ranking; numpy and the search index are loaded on
first use, so a base install answers with what to install instead.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from paperfeed.library import collection as coll
from paperfeed.library import listing
from paperfeed.mcp_server.public import paper
from paperfeed.mcp_server.site import reader, refusals, site_of
from paperfeed.recommend import spans
from paperfeed.search.errors import missing_extra
from paperfeed.web.cards import paper_cards
from paperfeed.web.hf_json import NO_NUL, iso

FOR_YOU_DEPTH = 500  # ranked papers one can page through (the ranking's own limit)
MAX_FOR_YOU = 50
MAX_OFFSET = 1_000_000  # as the library's API


def library_collections(ctx: Context) -> dict[str, Any]:
    """Your collections (the Reading list first) with how many papers each holds."""
    who = reader(ctx)
    with site_of(ctx).engine.begin() as conn:
        coll.default_collection(conn, who.user_id)  # the Reading list is always there
        found = coll.list_collections(conn, who.user_id)  # at most MAX_COLLECTIONS
    return {"collections": [
        {"id": c.id, "name": c.name, "description": c.description, "papers": c.papers,
         "is_default": c.is_default, "is_public": c.is_public,
         "created_at": iso(c.created_at), "updated_at": iso(c.updated_at)}
        for c in found
    ]}


def library_papers(
    ctx: Context,
    collection: Annotated[int | str | None, Field(description=(
        "Only this collection: its id (from library_collections) or its name."))] = None,
    category: Annotated[str | None, Field(max_length=64, pattern=NO_NUL, description=(
        "Only papers in this category, e.g. cs.CL, or a whole archive, e.g. cs."))] = None,
    sort: Annotated[Literal["saved", "published", "title"], Field(description=(
        "saved: newest saved first; published: newest first; title: A to Z."))] = "saved",
    limit: Annotated[int, Field(ge=1, le=listing.MAX_LIMIT)] = 20,
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Your saved papers, with your private notes and the collections holding each."""
    who = reader(ctx)
    if isinstance(collection, str) and not collection.strip():
        collection = None
    with refusals(), site_of(ctx).engine.connect() as conn:
        page = listing.list_saved(conn, who.user_id, collection=collection, category=category or None,
                                  sort=sort, limit=limit, offset=offset)
        cards = {c.arxiv_id: c for c in paper_cards(conn, [i.arxiv_id for i in page.items])}
    return {"total": page.total, "offset": page.offset, "papers": [
        {**paper(cards[i.arxiv_id]), "note": i.note, "savedAt": iso(i.saved_at), "collections": i.collections}
        for i in page.items if i.arxiv_id in cards
    ]}


def for_you(
    ctx: Context,
    window: Annotated[Literal["day", "week", "month"], Field(description=(
        "Rank the papers first announced in the last day, week or month."))] = "week",
    hidden_gems: Annotated[bool, Field(description=(
        "Put well-fitting papers with few upvotes first."))] = False,
    limit: Annotated[int, Field(ge=1, le=MAX_FOR_YOU)] = 20,
    offset: Annotated[int, Field(ge=0, le=FOR_YOU_DEPTH - MAX_FOR_YOU)] = 0,
) -> dict[str, Any]:
    """New papers ranked for you from your library and follows, each saying why
    (the saved papers it is closest to, shared terms, followed authors and categories)."""
    who = reader(ctx)
    try:
        from paperfeed.recommend import source  # numpy: the `search` extra
    except ImportError as exc:
        raise ToolError(f"For you ranks with the search index, and {missing_extra(exc)}") from None
    start = spans.since(window)
    try:
        with site_of(ctx).engine.connect() as conn:
            win = source.window(conn, start)
            prof = source.profile(conn, who.user_id, win)
            if prof.empty:
                return {"window": window, "since": iso(start), "papers": [], "note": (
                    "Nothing saved or followed yet: save papers, or follow authors and categories, "
                    "on the site and For you ranks new papers for you.")}
            recs = source.rank(conn, win, prof, limit=limit, offset=offset, hidden_gems=hidden_gems)
            cards = {c.arxiv_id: c for c in paper_cards(conn, [r.arxiv_id for r in recs])}
    except source.IndexNotBuilt:
        raise ToolError("the search index is not built yet, so nothing can be ranked for you "
                        "(an administrator runs `paperfeed index`)") from None
    return {"window": window, "since": iso(start), "papers": [
        {**paper(cards[r.arxiv_id]), "why": r.why(), "score": round(r.score, 4),
         "closest": [n.arxiv_id for n in r.closest]}
        for r in recs if r.arxiv_id in cards
    ]}
