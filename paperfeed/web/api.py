"""
The JSON API, compatible with Hugging Face Papers: `huggingface_hub.HfApi(endpoint=...)`
pointed at a paperfeed server lists daily papers, searches and reads papers.

Routes and parameters are those `huggingface_hub/hf_api.py` calls
(`list_daily_papers`, `list_papers`, `paper_info`, `read_paper`); the shapes are
built in `paperjson`.  Errors are Hugging Face's too: a JSON body
`{"error": "..."}` (which `hf_raise_for_status` puts in its exception message),
404 for an unknown paper and 400 for a bad parameter, including the ones
FastAPI's own validation would have answered with 422.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from paperfeed import ids, settings
from paperfeed.web import finder, listing, paperjson
from paperfeed.web.listing import DailyQuery
from paperfeed.web.queries import Card

MAX_LIMIT = 100
DEFAULT_LIMIT = 50


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class HFRoute(APIRoute):
    """Answers bad parameters with 400 `{"error": ...}`, as Hugging Face does, not 422."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                return error_response(400, _validation_message(e))
            except ApiError as e:
                return error_response(e.status, e.message)

        return route


def _validation_message(e: RequestValidationError) -> str:
    parts = []
    for err in e.errors():
        where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


router = APIRouter(route_class=HFRoute, tags=["Hugging Face-compatible API"])

# "4XX" (not 400 and 404 alone) also keeps FastAPI from documenting a 422 we never send.
ERRORS = {
    "4XX": {
        "model": paperjson.HFError,
        "description": "400 for a bad parameter, 404 for an unknown paper: `{\"error\": message}`",
    }
}


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def base_url(request: Request) -> str:
    """The site's absolute URL: the `site_url` setting, else the URL this request came to."""
    return (settings.get("site_url") or str(request.base_url)).rstrip("/")


def page_url(base: str, arxiv_id: str) -> str:
    return f"{base}/papers/{arxiv_id}"


# --- daily papers -------------------------------------------------------------

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_day(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"date must be YYYY-MM-DD, got {text[:40]!r}") from None


def parse_week(text: str) -> tuple[date, date]:
    m = _WEEK.match(text)
    try:
        if not m:
            raise ValueError
        monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise ApiError(400, f"week must be an ISO week YYYY-Www, got {text[:40]!r}") from None
    return monday, monday + timedelta(days=6)


def parse_month(text: str) -> tuple[date, date]:
    m = _MONTH.match(text)
    if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1:
        raise ApiError(400, f"month must be YYYY-MM, got {text[:40]!r}")
    first = date(int(m[1]), int(m[2]), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def period(day: str | None, week: str | None, month: str | None) -> tuple[date | None, date | None]:
    """The inclusive date range of at most one of date/week/month (none: every day)."""
    given = [name for name, value in (("date", day), ("week", week), ("month", month)) if value]
    if len(given) > 1:
        raise ApiError(400, f"give only one of date, week and month (got {', '.join(given)})")
    if day:
        d = parse_day(day)
        return d, d
    if week:
        return parse_week(week)
    if month:
        return parse_month(month)
    return None, None


@router.get(
    "/api/daily_papers",
    summary="List daily papers",
    description=(
        "Papers on the daily lists of one day (`date`), ISO week (`week`) or month "
        "(`month`) — at most one of them; without any, the most recent entries of every day. "
        "`sort=publishedAt` (default) lists newest days first, ranked by upvotes within a day; "
        "`sort=trending` ranks by upvotes decayed with age. Pages are `p` (from 0) of `limit`."
    ),
    response_model=list[paperjson.HFListItem],
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
    start, end = period(date, week, month)
    q = DailyQuery(start=start, end=end, submitter=submitter or None, sort=sort, page=p, limit=limit)
    rows = listing.daily(engine_of(request), q)
    return JSONResponse([paperjson.list_item(r) for r in rows])


# --- search ---------------------------------------------------------------------
# Declared before /api/papers/{id:path}, which would otherwise take "search" as an id.


def search_cards(engine: Engine, query: str, limit: int, category: str | None = None) -> list[Card]:
    """Papers matching `query`, best first, as the search page finds them."""
    results = finder.search(engine, query, limit=limit, category=category)
    return listing.papers(engine, [found.arxiv_id for found in results.found])


@router.get(
    "/api/papers/search",
    summary="Search papers",
    description="Papers matching `q` (hybrid keyword and semantic search), best first. "
    "Without `q`, the most recently published papers.",
    response_model=list[paperjson.HFListItem],
    responses=ERRORS,
)
def search_papers(
    request: Request,
    q: Annotated[str | None, Query(max_length=2000, description="Search query")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    engine = engine_of(request)
    if q and q.strip():
        rows = search_cards(engine, q, limit)
    else:
        rows = listing.recent_papers(engine, limit)
    return JSONResponse([paperjson.list_item(r) for r in rows])


# --- one paper ------------------------------------------------------------------


def find_paper(engine: Engine, raw_id: str) -> Card:
    try:
        arxiv_id = ids.canonical(raw_id)
    except ids.BadArxivId:
        raise ApiError(404, "Paper not found") from None
    found = listing.papers(engine, [arxiv_id])
    if not found:
        raise ApiError(404, "Paper not found")
    return found[0]


@router.get(
    "/api/papers/{arxiv_id:path}",
    summary="Get a paper",
    description="One paper by arXiv id (any accepted form: `2406.09415`, `2406.09415v2`, "
    "`hep-th/9901001`), with its upvotes and daily-list submission.",
    response_model=paperjson.HFPaper,
    responses=ERRORS,
)
def paper_info(request: Request, arxiv_id: str) -> Response:
    return JSONResponse(paperjson.paper(find_paper(engine_of(request), arxiv_id)))


@router.get(
    "/papers/{arxiv_id:path}.md",
    summary="A paper page as Markdown",
    description="What `HfApi.read_paper` reads: title, authors, dates, links and abstract.",
    response_class=PlainTextResponse,
    responses=ERRORS,
)
def paper_markdown(request: Request, arxiv_id: str) -> Response:
    card = find_paper(engine_of(request), arxiv_id)
    text = paperjson.markdown(card, page_url(base_url(request), card.arxiv_id))
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
