"""
The tools anyone may call: search, one paper, a day's list, similar papers.

Each goes through the code the site's JSON API runs, so an agent and
`huggingface_hub` see the same papers in the same order: search is
`web.search_bridge.search_cards` (what `/api/papers/search` answers, with the
same substring fallback while no index is built), a day's list is
`web.cards.daily` (`/api/daily_papers`), similar papers are the paper page's.
Every paper is `paper(card)`: the API's paper object (`web.hf_json.paper`,
Hugging Face's field names) with plain author names and its page on this site.
Every list is bounded by its `limit`, as in the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from paperfeed import siteurl
from paperfeed.mcp_server.site import canonical, count_search, refusals, site_of
from paperfeed.web import catalog, citation, periods, search_bridge
from paperfeed.web.api import MAX_LIMIT, SEARCH_MAX_LIMIT
from paperfeed.web.cards import MAX_DEPTH, Card, DailyQuery, daily, listed_cards
from paperfeed.web.hf_json import NO_NUL, iso
from paperfeed.web.hf_json import paper as api_paper

ArxivId = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL,
                               description="An arXiv id, with or without version: 2406.09415, hep-th/9901001v2.")]
MAX_SIMILAR = 20


def paper(card: Card) -> dict[str, Any]:
    """The API's paper object, authors as names, with `url`: its page on this site."""
    out = api_paper(card)
    out["authors"] = [a["name"] for a in out["authors"]]
    by = out.pop("submittedOnDailyBy", None)
    if by:
        out["submittedOnDailyBy"] = by["user"]
    out["url"] = siteurl.paper_url(siteurl.site_url(), card.arxiv_id)
    return out


def search_papers(
    ctx: Context,
    query: Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL, description=(
        'What to look for. Words rank by keyword and meaning together; also "quoted phrases", '
        "-exclusions, author:Name, cat:cs.CL (cat:cs for all of cs), after:2024-01-01, before:2025."))],
    limit: Annotated[int, Field(ge=1, le=SEARCH_MAX_LIMIT, description="How many papers, best first.")] = 10,
) -> dict[str, Any]:
    """Search the papers stored on this site, best match first (what /api/papers/search answers)."""
    if not query.strip():
        raise ToolError("query is empty: give words to search for")
    site = site_of(ctx)
    with refusals():
        count_search(ctx)
        cards = search_bridge.search_cards(site.engine, query, limit)
    return {"query": query, "papers": [paper(c) for c in cards]}


def paper_info(ctx: Context, arxiv_id: ArxivId) -> dict[str, Any]:
    """One paper in full: abstract, authors, dates, categories, code and project links,
    Hugging Face models/datasets/Spaces it links to, arXiv comments, DOI and BibTeX."""
    canon = canonical(arxiv_id)
    engine = site_of(ctx).engine
    found = listed_cards(engine, [canon])
    with engine.connect() as conn:
        row = catalog.get_paper(conn, canon)
    if not found or row is None:
        raise ToolError(f"no paper {canon} is stored on this site")
    out = paper(found[0])
    links = found[0].paper_links()
    out["artifacts"] = [{"kind": a.kind, "name": a.name, "url": a.url} for a in links.artifacts]
    out.update({"comments": row.comments, "journalRef": row.journal_ref, "doi": row.doi,
                "updatedAt": iso(row.updated), "bibtex": citation.bibtex(row)})
    return out


def daily_papers(
    ctx: Context,
    date: Annotated[str | None, Field(max_length=40, description=(
        "The day, YYYY-MM-DD (UTC). Without it: the newest days' lists, newest first."))] = None,
    sort: Annotated[Literal["publishedAt", "trending"], Field(description=(
        "publishedAt: newest day first, most upvoted first within a day; trending: upvotes decayed with age."))]
    = "publishedAt",
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 30,
    page: Annotated[int, Field(ge=0, le=MAX_DEPTH - 1, description=f"Page, from 0 (the first {MAX_DEPTH} entries)."
                               )] = 0,
) -> dict[str, Any]:
    """The papers on a day's daily list (what /api/daily_papers answers), with their upvotes."""
    with refusals():
        day = periods.parse_day(date) if date else None
    q = DailyQuery(start=day, end=day, sort=sort, page=page, limit=limit)
    cards = daily(site_of(ctx).engine, q)
    return {"date": date, "papers": [paper(c) for c in cards]}


def similar_papers(
    ctx: Context,
    arxiv_id: ArxivId,
    limit: Annotated[int, Field(ge=1, le=MAX_SIMILAR)] = 6,
) -> dict[str, Any]:
    """Papers most like this one, by their embeddings (the paper page's "Similar papers")."""
    canon = canonical(arxiv_id)
    engine = site_of(ctx).engine
    with engine.connect() as conn:
        if catalog.get_paper(conn, canon) is None:
            raise ToolError(f"no paper {canon} is stored on this site")
    found = search_bridge.similar(engine, canon, limit=limit)
    return {"arxiv_id": canon, "papers": [paper(c) for c in listed_cards(engine, found)]}
