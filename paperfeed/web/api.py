"""
The JSON API, compatible with Hugging Face Papers: `huggingface_hub.HfApi(endpoint=...)`
pointed at a paperfeed server lists daily papers, searches and reads papers.

Routes and parameters are those `huggingface_hub/hf_api.py` calls
(`list_daily_papers`, `list_papers`, `paper_info`, `read_paper`), plus
`GET /api/papers`, every paper newest first in pages linked by a `Link:
<...>; rel="next"` header (an opaque `cursor`, so paging stays right while
papers arrive); the shapes,
errors included (`{"error": "..."}`, 404 for an unknown paper, 400 for a bad
parameter), are built in `hf_json`.  Dates, weeks and months are read by
`periods`, with the same year limits as the pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine
from starlette.routing import Match
from starlette.types import Scope

from paperfeed import ids, siteurl
from paperfeed.web import cards, category_filter, hf_json, periods, search_bridge
from paperfeed.web.cards import Card, DailyQuery
from paperfeed.web.hf_json import ERRORS, NO_NUL, ApiError, HFRoute, error_responses

MAX_LIMIT = 100
SEARCH_MAX_LIMIT = 120  # Hugging Face's own maximum for /api/papers/search
DEFAULT_LIMIT = 50
MAX_PAGE = cards.MAX_DEPTH - 1  # with limit=1 the last entry paged to is the MAX_DEPTH-th

router = APIRouter(route_class=HFRoute, tags=["Hugging Face-compatible API"])


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


# --- daily papers -------------------------------------------------------------


def period(day: str | None, week: str | None, month: str | None) -> periods.Period | None:
    """The period of at most one of date/week/month (None: every day).  A bad one
    raises `periods.PeriodError`, which `HFRoute` answers with 400."""
    # an empty one (`?date=`) is not read, but still counts: the schema says "at most one"
    named = (("date", day), ("week", week), ("month", month))
    given = [name for name, value in named if value is not None]
    if len(given) > 1:
        raise ApiError(400, f"give only one of date, week and month (got {', '.join(given)})")
    if day:
        return periods.period_of("day", periods.parse_day(day))
    if week:
        return periods.period_of("week", periods.parse_week(week))
    if month:
        return periods.period_of("month", periods.parse_month(month))
    return None


def _period_text(pattern: str, example: str) -> dict:
    return {"type": "string", "pattern": periods.or_empty(pattern), "examples": [example]}


# date, week and month are one query parameter in the schema, an object exploded into
# `?date=`, `?week=` or `?month=` with at most one property: OpenAPI has no other way
# to say "at most one of these", and a request naming two is refused.
PERIOD_PARAMETER = {
    "name": "period",
    "in": "query",
    "required": False,
    "style": "form",
    "explode": True,
    "description": "At most one of `date` (YYYY-MM-DD), `week` (ISO week, YYYY-Www) and "
    f"`month` (YYYY-MM), in the years {periods.FIRST_YEAR} to {periods.LAST_YEAR}; "
    "each is its own query parameter, e.g. `?week=2026-W40`.",
    "schema": {
        "type": "object",
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {
            "date": _period_text(periods.DAY_PATTERN, "2026-10-03"),
            "week": _period_text(periods.WEEK_PATTERN, "2026-W40"),
            "month": _period_text(periods.MONTH_PATTERN, "2026-10"),
        },
    },
    "examples": {"a day": {"value": {"date": "2026-10-03"}}, "a week": {"value": {"week": "2026-W40"}}},
}


@router.get(
    "/api/daily_papers",
    summary="List daily papers",
    description=(
        "Papers on the daily lists of one day (`date`), ISO week (`week`) or month "
        "(`month`) — at most one of them; without any, the most recent entries of every day. "
        "`sort=publishedAt` (default) lists newest days first, ranked by upvotes within a day; "
        "`sort=trending` ranks by upvotes decayed with age. `category` (repeatable) keeps the papers "
        "in those categories or archives (`cs`, `hep`). Pages are `p` (from 0) of `limit`; "
        f"they reach the first {cards.MAX_DEPTH} entries, and a page that starts past them is empty."
    ),
    response_model=list[hf_json.HFListItem],
    responses=ERRORS,
    openapi_extra={"parameters": [PERIOD_PARAMETER]},
)
def daily_papers(
    request: Request,
    date: Annotated[str | None, Query(include_in_schema=False)] = None,  # PERIOD_PARAMETER
    week: Annotated[str | None, Query(include_in_schema=False)] = None,
    month: Annotated[str | None, Query(include_in_schema=False)] = None,
    submitter: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Username of the submitter")
    ] = None,
    sort: Annotated[Literal["publishedAt", "trending"], Query()] = "publishedAt",
    p: Annotated[int, Query(ge=0, le=MAX_PAGE, description=f"Page number, from 0 (the first {cards.MAX_DEPTH} entries only)")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    category: category_filter.CategoryParam = (),
) -> Response:
    chosen = period(date, week, month)
    q = DailyQuery(
        start=chosen.first if chosen else None, end=chosen.last if chosen else None,
        submitter=submitter or None, sort=sort, page=p, limit=limit,
        categories=category_filter.from_api(category),
    )
    rows = cards.daily(engine_of(request), q)
    return JSONResponse([hf_json.list_item(r) for r in rows])


# --- search ---------------------------------------------------------------------
# Declared before /api/papers/{id:path}, which would otherwise take "search" as an id.


@router.get(
    "/api/papers/search",
    summary="Search papers",
    description="Papers matching `q` (hybrid keyword and semantic search), best first. "
    "Without `q`, the most recently published papers. Searches are limited per client address "
    "(`PAPERFEED_RATE_LIMIT_SEARCH`): 429 with `Retry-After` beyond it.",
    response_model=list[hf_json.HFListItem],
    responses={**ERRORS, **error_responses(429, 503)},
)
def search_papers(
    request: Request,
    q: Annotated[str | None, Query(max_length=2000, pattern=NO_NUL, description="Search query")] = None,
    limit: Annotated[int, Query(ge=1, le=SEARCH_MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    engine = engine_of(request)
    if q and q.strip():
        search_bridge.enforce_limit(request)
        rows = search_bridge.search_cards(engine, q, limit)
    else:
        rows = cards.recent_cards(engine, limit)
    return JSONResponse([hf_json.list_item(r) for r in rows])


# --- every paper, newest first ---------------------------------------------------


# A cursor is the (publication time, arXiv id) of the last paper of a page:
# microseconds since 1970 (`n`: no date), `-`, the id in hex.  Every string the
# pattern admits is a position, so the schema is exact (no valid-looking cursor is refused).
CURSOR_PATTERN = r"^(?:n|[0-9]{1,16})-(?:[0-9a-f]{2}){1,128}$"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(card: Card) -> str:
    """The position after `card` in newest-first order."""
    when = "n" if card.published is None else str((card.published - EPOCH) // timedelta(microseconds=1))
    return f"{when}-{card.arxiv_id.encode().hex()}"


def decode_cursor(cursor: str) -> tuple[datetime | None, str]:
    when, _, hex_id = cursor.partition("-")
    published = None if when == "n" else EPOCH + timedelta(microseconds=int(when))
    # no arXiv id holds NUL, and PostgreSQL cannot compare text with one: a hand-made
    # cursor that has one means the same position without it
    return published, bytes.fromhex(hex_id).decode("utf-8", "replace").replace("\x00", "")


@router.get(
    "/api/papers",
    summary="List papers",
    description="Every stored paper, newest first (by first arXiv version; papers without a date last), "
    "`limit` at a time. When there are more, a `Link: <URL>; rel=\"next\"` header gives the next page's "
    "absolute address, whose `cursor` parameter says where it starts.",
    response_model=list[hf_json.HFListItem],
    responses={
        **ERRORS,
        200: {"description": "A page of papers", "headers": {"Link": {
            "description": "`<URL>; rel=\"next\"` when there is a next page", "schema": {"type": "string"}}}},
    },
)
def list_papers(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=300, pattern=CURSOR_PATTERN, description="From the previous page's Link header")
    ] = None,
) -> Response:
    after = decode_cursor(cursor) if cursor else None
    page = cards.newest_cards(engine_of(request), limit + 1, after)
    response = JSONResponse([hf_json.list_item(c) for c in page[:limit]])
    if len(page) > limit:
        query = urlencode({"limit": limit, "cursor": encode_cursor(page[limit - 1])})
        response.headers["Link"] = f'<{siteurl.site_url()}/api/papers?{query}>; rel="next"'
    return response


# --- one paper ------------------------------------------------------------------


class MarkdownResponse(PlainTextResponse):  # so the schema names the media type sent
    media_type = "text/markdown"


# A paper of the bundled sample, so that the schema's example (and a fuzzer trying
# it) reaches a paper, in each form an id is accepted in.
PaperId = Annotated[
    str,
    Path(
        description="arXiv id, with or without a version",
        openapi_examples={"new-style": {"value": "0704.0001"}, "versioned": {"value": "0704.0001v2"}},
    ),
]


def find_paper(engine: Engine, raw_id: str) -> Card:
    try:
        arxiv_id = ids.canonical(raw_id)
    except ids.BadArxivId:
        raise ApiError(404, "Paper not found") from None
    found = cards.listed_cards(engine, [arxiv_id])
    if not found:
        raise ApiError(404, "Paper not found")
    return found[0]


class PaperRoute(HFRoute):
    """`/api/papers/{arxiv_id:path}` for every id but `index`: `/api/papers/index` is where
    papers are submitted (POST, `submissions.py`), and GET there would otherwise be this
    route's, advertised in that path's `Allow` header as if the schema had it."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match != Match.NONE and child.get("path_params", {}).get("arxiv_id") == "index":
            return Match.NONE, {}
        return match, child


def paper_info(request: Request, arxiv_id: PaperId) -> Response:
    return JSONResponse(hf_json.paper(find_paper(engine_of(request), arxiv_id)))


router.add_api_route(
    "/api/papers/{arxiv_id:path}",
    paper_info,
    methods=["GET"],
    summary="Get a paper",
    description="One paper by arXiv id (any accepted form: `2406.09415`, `2406.09415v2`, "
    "`hep-th/9901001`), with its upvotes and daily-list submission.",
    response_model=hf_json.HFPaper,
    responses=error_responses(404, 413),
    route_class_override=PaperRoute,
)


@router.get(
    "/papers/{arxiv_id:path}.md",
    summary="A paper page as Markdown",
    description="What `HfApi.read_paper` reads: title, authors, dates, links and abstract.",
    response_class=MarkdownResponse,
    responses=error_responses(404, 413),
)
def paper_markdown(request: Request, arxiv_id: PaperId) -> Response:
    return markdown_response(engine_of(request), arxiv_id)


def markdown_response(engine: Engine, arxiv_id: str) -> Response:
    """The paper page as Markdown: `/papers/{id}.md`, and `/papers/{id}` asked for `text/markdown`."""
    card = find_paper(engine, arxiv_id)
    text = hf_json.markdown(card, siteurl.paper_url(siteurl.site_url(), card.arxiv_id))
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8", headers={"Vary": "Accept"})
