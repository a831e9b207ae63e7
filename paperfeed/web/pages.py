"""
The site's pages: daily lists (by day, ISO week and month), trending, search,
and one page per paper.

`/` shows today's list, or the latest day that has one (and says so).  Every
address that names a date checks it and answers a friendly 400 when it is not
one; a paper address in any accepted form (`arXiv:` prefix, version suffix,
old-style `hep-th/9901001`) redirects permanently to its canonical page.
Lists page through their first `cards.MAX_DEPTH` papers (`p` at most 20 for
daily lists, 50 for search; a larger `p` is a 400), and searches count against
the `rate_limit_search` of the client's address.  The daily lists and trending
take a category filter (`category_filter`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from paperfeed import ids, settings, trending
from paperfeed.web import (
    accounts,
    api,
    author_pages,
    cards,
    catalog,
    category_filter,
    citation,
    codelinks,
    discussion_pages,
    entries,
    pagecache,
    periods,
    search_bridge,
    votes,
)
from paperfeed.web.periods import Period, PeriodError, period_of, today
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API (docs/security.md)

PAGE_SIZE = 50
SEARCH_PAGE_SIZE = 20
MAX_PAGE = cards.MAX_DEPTH // PAGE_SIZE  # 20: a daily list pages through its first 1,000 papers
MAX_SEARCH_PAGE = cards.MAX_DEPTH // SEARCH_PAGE_SIZE  # 50: search results likewise
EXAMPLE_QUERIES = [
    "diphoton production at hadron colliders",
    '"large language models" latency',
    "graph theory cat:math.CO",
    "author:Nadolsky",
]

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]
SearchPageNumber = Annotated[int, Query(ge=1, le=MAX_SEARCH_PAGE)]


def parsed(kind: str, text: str) -> Period:
    """The day, week or month a page address names; a friendly 400 when it names none."""
    parse = {"day": periods.parse_day, "week": periods.parse_week, "month": periods.parse_month}[kind]
    try:
        first = parse(text)
    except PeriodError as e:
        raise FriendlyError(400, e.page_message, e.page_title) from None
    return period_of(kind, first)


def _sort(sort: str) -> str:
    if sort not in cards.SORTS:
        raise FriendlyError(400, f"Sort by one of: {', '.join(cards.SORTS)}.")
    return sort


def daily_page(request: Request, period: Period, sort: str, page: int, notice: str | None = None) -> Response:
    engine: Engine = request.app.state.engine
    user = accounts.current_user(request)
    curator = accounts.has_role(user, "curator")
    shown_filter = category_filter.chosen(request, user)
    with engine.connect() as conn:
        every = cards.daily_cards(
            conn, period.first, period.last, user.id if user else None, _sort(sort), show_hidden=curator
        )
        before, after = entries.neighbour_days(conn, period.first, period.last)
    listed = cards.in_categories(every, shown_filter.categories)
    shown_filter.known = category_filter.suggestions(every)
    pages = min(max((len(listed) + PAGE_SIZE - 1) // PAGE_SIZE, 1), MAX_PAGE)
    if page > pages:
        raise FriendlyError(404, "There are not that many pages.")
    shown = listed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    with engine.connect() as conn:
        cards.mark_saved(conn, shown, user.id if user else None)
    context = {
        "period": period,
        "cards": shown,
        "count": len(listed),
        "sort": sort,
        "sorts": cards.SORTS,
        "page": page,
        "pages": pages,
        "notice": notice,
        "prev": period_of(period.kind, before) if before else None,
        "next": period_of(period.kind, after) if after else None,
        "week": period_of("week", period.first),
        "month": period_of("month", period.first),
        "day_view": period_of("day", period.first),
        "is_curator": curator,
        "filter": shown_filter,
    }
    if user is None and not shown_filter.explicit:
        pagecache.shareable(request)
    return render(request, "daily.html", context)


@router.get("/")
def home(request: Request, sort: str = "upvotes", p: PageNumber = 1) -> Response:
    engine: Engine = request.app.state.engine
    now = today()
    with engine.connect() as conn:
        latest = entries.latest_day(conn, on_or_before=now)
        if latest is None:
            latest = entries.latest_day(conn)
    notice = None
    if latest is None:
        latest = now
    elif latest != now:
        notice = f"No papers have been listed today yet; showing the latest list, from {latest.day} {latest:%B %Y}."
    return daily_page(request, period_of("day", latest), sort, p, notice)


@router.get("/papers/date/{day}")
def by_day(request: Request, day: str, sort: str = "upvotes", p: PageNumber = 1) -> Response:
    return daily_page(request, parsed("day", day), sort, p)


@router.get("/papers/week/{week}")
def by_week(request: Request, week: str, sort: str = "upvotes", p: PageNumber = 1) -> Response:
    return daily_page(request, parsed("week", week), sort, p)


@router.get("/papers/month/{month}")
def by_month(request: Request, month: str, sort: str = "upvotes", p: PageNumber = 1) -> Response:
    return daily_page(request, parsed("month", month), sort, p)


@router.get("/trending")
def trending_page(request: Request, days: Annotated[int | None, Query(ge=1, le=365)] = None) -> Response:
    engine: Engine = request.app.state.engine
    user = accounts.current_user(request)
    shown_filter = category_filter.chosen(request, user)
    wanted = shown_filter.categories
    days = days or settings.get_int("trending_days")
    until = datetime.now(UTC)
    notice = None
    with engine.connect() as conn:
        ranked = trending.trending(conn, until - timedelta(days=days), until, limit=PAGE_SIZE, categories=wanted)
        if not ranked and (latest := entries.latest_day(conn)) is not None:
            # a quiet site (or the demo's old sample): rank the last active period instead
            until = trending.day_start(latest + timedelta(days=1))
            ranked = trending.trending(conn, until - timedelta(days=days), until, limit=PAGE_SIZE, categories=wanted)
            notice = f"Nothing was upvoted in the last {days} days; showing the {days} days up to {latest.isoformat()}."
        shown = cards.paper_cards(conn, [a for a, _ in ranked], user.id if user else None)
        cards.mark_saved(conn, shown, user.id if user else None)
    scores = dict(ranked)
    for card in shown:
        card.score = scores.get(card.arxiv_id)
    context = {
        "cards": shown,
        "days": days,
        "notice": notice,
        "half_life": settings.get("trending_half_life_hours"),
        "filter": shown_filter,
    }
    shown_filter.known = category_filter.suggestions(shown)
    if user is None and not shown_filter.explicit:
        pagecache.shareable(request)
    return render(request, "trending.html", context)


def _optional_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return periods.parse_day(value)
    except PeriodError:
        raise FriendlyError(400, f"The “{name}” date must look like 2024-01-31.") from None


@router.get("/papers")
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=2000)] = "",
    mode: str = "hybrid",
    category: Annotated[str, Query(max_length=64)] = "",
    after: Annotated[str, Query(max_length=20)] = "",
    before: Annotated[str, Query(max_length=20)] = "",
    p: SearchPageNumber = 1,
) -> Response:
    if mode not in search_bridge.MODES:
        raise FriendlyError(400, f"Search mode must be one of: {', '.join(search_bridge.MODES)}.")
    start, end = _optional_day(after, "after"), _optional_day(before, "before")
    engine: Engine = request.app.state.engine
    user = accounts.current_user(request)
    with engine.connect() as conn:
        all_categories = catalog.categories(conn)
    context: dict = {
        "q": q, "mode": mode, "modes": search_bridge.MODES, "category": category, "after": after,
        "before": before, "categories": all_categories, "examples": EXAMPLE_QUERIES, "page": p,
    }
    if q.strip() or category or start or end:
        search_bridge.enforce_limit(request)
        offset = (p - 1) * SEARCH_PAGE_SIZE
        results = search_bridge.search(
            engine, q.strip(), mode=mode, limit=SEARCH_PAGE_SIZE, offset=offset,
            category=category or None, after=start, before=end + timedelta(days=1) if end else None,
        )
        with engine.connect() as conn:
            shown = cards.paper_cards(conn, [f.arxiv_id for f in results.found], user.id if user else None)
            cards.mark_saved(conn, shown, user.id if user else None)
        found = {f.arxiv_id: f for f in results.found}
        for card in shown:
            card.snippet = found[card.arxiv_id].snippet
            card.title_html = found[card.arxiv_id].title_html
            card.score = found[card.arxiv_id].score
        params = {k: v for k, v in {"q": q, "mode": mode, "category": category, "after": after, "before": before}.items() if v}
        pages = min(max((results.total + SEARCH_PAGE_SIZE - 1) // SEARCH_PAGE_SIZE, 1), MAX_SEARCH_PAGE)
        context.update(
            searched=True, cards=shown, total=results.total, fallback=results.fallback,
            pages=pages, query_string=urlencode(params),
        )
    return render(request, "search.html", context)


def canonical_or_404(raw: str) -> tuple[str, bool]:
    """The canonical id of `raw` and whether `raw` was already it; 404 for non-ids."""
    try:
        canon = ids.canonical(raw)
    except ids.BadArxivId:
        raise FriendlyError(404, "That is not an arXiv identifier we know.", "Paper not found") from None
    return canon, canon == raw


def versions_of(paper) -> list[dict]:
    out = []
    for v in paper.versions or []:
        created = v.get("created")
        try:
            when = datetime.fromisoformat(created) if created else None
        except ValueError:
            when = None
        out.append({"version": v.get("version"), "created": when})
    return out


@router.get("/papers/{arxiv_id:path}")
def paper_page(
    request: Request, arxiv_id: str, submitted: int = 0, cp: discussion_pages.ThreadPage = 1,
    done: discussion_pages.Done = "",
) -> Response:
    canon, exact = canonical_or_404(arxiv_id)
    if not exact:
        return RedirectResponse(f"/papers/{canon}", status_code=301)
    engine: Engine = request.app.state.engine
    user = accounts.current_user(request)
    with engine.connect() as conn:
        paper = catalog.get_paper(conn, canon)
        if paper is None:
            raise FriendlyError(
                404, f"No paper {canon} is stored here. You can submit it, or read it on arXiv.", "Paper not found"
            )
        upvotes = votes.upvotes(conn, canon)
        voted = bool(votes.user_votes(conn, user.id if user else None, [canon]))
        days = entries.paper_entries(conn, canon)
    if wants_markdown(request.headers.get("accept", "")):
        return api.markdown_response(engine, canon)  # what /papers/{id}.md answers
    similar_ids = search_bridge.similar(engine, canon, limit=6)
    with engine.connect() as conn:
        similar = cards.paper_cards(conn, similar_ids, user.id if user else None)
        this = cards.Card(paper.arxiv_id, paper.title or paper.arxiv_id, [], "", None, None)
        cards.mark_saved(conn, [this, *similar], user.id if user else None)  # one look-up for the page
        discussion = discussion_pages.paper_context(conn, canon, user, cp, done)
    curator = accounts.has_role(user, "curator")
    context = {
        "paper": paper,
        "upvotes": upvotes,
        "voted": voted,
        "days": [d for d in days if curator or not d.hidden],
        "versions": versions_of(paper),
        "bibtex": citation.bibtex(paper),
        "similar": similar,
        "this_card": this,
        "abs_url": citation.ABS_URL.format(canon),
        "pdf_url": citation.PDF_URL.format(canon),
        "submitted": bool(submitted),
        "is_curator": curator,
        "links": codelinks.of_row(paper),
        "category_follows": author_pages.follow_state(request, "category", list(paper.categories or [])),
        "discussion": discussion,
    }
    response = render(request, "paper.html", context)
    response.headers.add_vary_header("Accept")  # the same address answers Markdown too
    return response


def wants_markdown(accept: str) -> bool:
    """Whether an `Accept` header prefers `text/markdown` to `text/html`.

    Markdown must be named (a browser's `*/*` is not a request for it) and rank at
    least as high as HTML; a tie goes to HTML only when HTML is named too."""
    ranks: dict[str, float] = {}
    for part in accept.split(",")[:50]:
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranks[media.lower()] = max(q, ranks.get(media.lower(), 0.0))
    markdown = ranks.get("text/markdown", 0.0)
    if markdown <= 0:
        return False
    if "text/html" in ranks:
        return markdown > ranks["text/html"]
    return markdown >= max(ranks.get("text/*", 0.0), ranks.get("*/*", 0.0))
