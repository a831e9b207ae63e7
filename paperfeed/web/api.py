"""
The JSON API, compatible with Hugging Face Papers: `huggingface_hub.HfApi(endpoint=...)`
pointed at a paperfeed server lists daily papers, searches and reads papers.

Routes and parameters are those `huggingface_hub/hf_api.py` calls
(`list_daily_papers`, `list_papers`, `paper_info`, `read_paper`); the shapes,
errors included (`{"error": "..."}`, 404 for an unknown paper, 400 for a bad
parameter), are built in `hf_json`.  Dates, weeks and months are read by
`periods`, with the same year limits as the pages.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine

from paperfeed import ids, siteurl
from paperfeed.web import cards, hf_json, periods, search_bridge
from paperfeed.web.cards import Card, DailyQuery
from paperfeed.web.hf_json import ERRORS, ApiError, HFRoute

MAX_LIMIT = 100
DEFAULT_LIMIT = 50

router = APIRouter(route_class=HFRoute, tags=["Hugging Face-compatible API"])


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


# --- daily papers -------------------------------------------------------------


def period(day: str | None, week: str | None, month: str | None) -> periods.Period | None:
    """The period of at most one of date/week/month (None: every day).  A bad one
    raises `periods.PeriodError`, which `HFRoute` answers with 400."""
    given = [name for name, value in (("date", day), ("week", week), ("month", month)) if value]
    if len(given) > 1:
        raise ApiError(400, f"give only one of date, week and month (got {', '.join(given)})")
    if day:
        return periods.period_of("day", periods.parse_day(day))
    if week:
        return periods.period_of("week", periods.parse_week(week))
    if month:
        return periods.period_of("month", periods.parse_month(month))
    return None


@router.get(
    "/api/daily_papers",
    summary="List daily papers",
    description=(
        "Papers on the daily lists of one day (`date`), ISO week (`week`) or month "
        "(`month`) — at most one of them; without any, the most recent entries of every day. "
        "`sort=publishedAt` (default) lists newest days first, ranked by upvotes within a day; "
        "`sort=trending` ranks by upvotes decayed with age. Pages are `p` (from 0) of `limit`."
    ),
    response_model=list[hf_json.HFListItem],
    responses=ERRORS,
)
def daily_papers(
    request: Request,
    date: Annotated[str | None, Query(description="YYYY-MM-DD", examples=["2026-10-03"])] = None,
    week: Annotated[str | None, Query(description="ISO week, YYYY-Www", examples=["2026-W40"])] = None,
    month: Annotated[str | None, Query(description="YYYY-MM", examples=["2026-10"])] = None,
    submitter: Annotated[str | None, Query(max_length=200, description="Username of the submitter")] = None,
    sort: Annotated[Literal["publishedAt", "trending"], Query()] = "publishedAt",
    p: Annotated[int, Query(ge=0, description="Page number, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    chosen = period(date, week, month)
    q = DailyQuery(
        start=chosen.first if chosen else None, end=chosen.last if chosen else None,
        submitter=submitter or None, sort=sort, page=p, limit=limit,
    )
    rows = cards.daily(engine_of(request), q)
    return JSONResponse([hf_json.list_item(r) for r in rows])


# --- search ---------------------------------------------------------------------
# Declared before /api/papers/{id:path}, which would otherwise take "search" as an id.


@router.get(
    "/api/papers/search",
    summary="Search papers",
    description="Papers matching `q` (hybrid keyword and semantic search), best first. "
    "Without `q`, the most recently published papers.",
    response_model=list[hf_json.HFListItem],
    responses=ERRORS,
)
def search_papers(
    request: Request,
    q: Annotated[str | None, Query(max_length=2000, description="Search query")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    engine = engine_of(request)
    if q and q.strip():
        rows = search_bridge.search_cards(engine, q, limit)
    else:
        rows = cards.recent_cards(engine, limit)
    return JSONResponse([hf_json.list_item(r) for r in rows])


# --- one paper ------------------------------------------------------------------


def find_paper(engine: Engine, raw_id: str) -> Card:
    try:
        arxiv_id = ids.canonical(raw_id)
    except ids.BadArxivId:
        raise ApiError(404, "Paper not found") from None
    found = cards.listed_cards(engine, [arxiv_id])
    if not found:
        raise ApiError(404, "Paper not found")
    return found[0]


@router.get(
    "/api/papers/{arxiv_id:path}",
    summary="Get a paper",
    description="One paper by arXiv id (any accepted form: `2406.09415`, `2406.09415v2`, "
    "`hep-th/9901001`), with its upvotes and daily-list submission.",
    response_model=hf_json.HFPaper,
    responses=ERRORS,
)
def paper_info(request: Request, arxiv_id: str) -> Response:
    return JSONResponse(hf_json.paper(find_paper(engine_of(request), arxiv_id)))


@router.get(
    "/papers/{arxiv_id:path}.md",
    summary="A paper page as Markdown",
    description="What `HfApi.read_paper` reads: title, authors, dates, links and abstract.",
    response_class=PlainTextResponse,
    responses=ERRORS,
)
def paper_markdown(request: Request, arxiv_id: str) -> Response:
    card = find_paper(engine_of(request), arxiv_id)
    text = hf_json.markdown(card, siteurl.paper_url(siteurl.site_url(str(request.base_url)), card.arxiv_id))
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
