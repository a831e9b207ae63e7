"""
"For you" as JSON (issue #14): `GET /api/foryou`, the reader's ranking of a
window's new papers, reached with a personal access token (`Authorization:
Bearer pf_…`, as the library API: `library_api.Reader`; 401 without one).

Each item is a paper in the shape of the other list endpoints
(`hf_json.list_item`, so `huggingface_hub`'s `PaperInfo(**item)` reads it)
plus `score` (the ranking's), `why` (the why-lines the page shows, from the
same computation) and `near` (the saved papers it is closest to: id and
title).  The list is the bare JSON array the Hugging Face endpoints answer;
pages are `p` (from 0) of `limit`, reach `foryou.DEPTH` papers deep, and a
`Link: <…>; rel="next"` header (absolute, from `siteurl`) says when there is
more.  A reader with nothing saved and nothing followed gets `[]`.  503 while
the search index is not built or search is not installed.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from paperfeed import siteurl
from paperfeed.web import foryou, hf_json
from paperfeed.web.hf_json import ApiError, error_responses
from paperfeed.web.library_api import ERRORS, LibraryRoute, Reader

MAX_LIMIT = 100
DEFAULT_LIMIT = 20

router = APIRouter(route_class=LibraryRoute, tags=["For you"])


class NearPaper(BaseModel):
    id: str = Field(description="A saved paper's arXiv id.")
    title: str


class ForYouItem(hf_json.HFListItem):
    score: float = Field(description="The ranking's score: higher fits your library better.")
    why: list[str] = Field(description="Why it is here, in words: the lines the For you page shows.")
    near: list[NearPaper] = Field(description="The saved papers it is closest to, closest first.")


def item(card, rec) -> dict:
    """A list item (`hf_json.list_item`) with the ranking's score, why-lines and nearest saved papers."""
    out = hf_json.list_item(card)
    out["score"] = round(rec.score, 6)
    out["why"] = rec.why()
    out["near"] = [{"id": n.arxiv_id, "title": n.title or n.arxiv_id} for n in rec.closest]
    return out


@router.get(
    "/api/foryou",
    summary="Your For you ranking",
    description="The papers first announced in the last day, week or month (`window`) ranked for you "
    "from your library, follows and “not interested” clicks, best first, each with its score, the "
    "reasons it is there and the saved papers it is near. `gems=1` puts well-fitting papers with few "
    f"upvotes first. Pages are `p` (from 0) of `limit`; they reach the first {foryou.DEPTH} papers, "
    "and a page that starts past them is empty. Empty when you have saved and followed nothing.",
    response_model=list[ForYouItem],
    responses={
        **ERRORS,
        **error_responses(503),
        200: {"description": "A page of your ranking", "headers": {"Link": {
            "description": "`<URL>; rel=\"next\"` when there is a next page", "schema": {"type": "string"}}}},
    },
)
def foryou_list(
    request: Request,
    who: Reader,
    window: Annotated[foryou.Window, Query(description="Papers first announced in the last day, week or month.")]
    = "week",
    gems: Annotated[int, Query(ge=0, le=1, description="1: hidden gems (few upvotes) first.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    p: Annotated[int, Query(ge=0, le=foryou.DEPTH - 1, description="Page number, from 0.")] = 0,
) -> Response:
    try:
        with request.app.state.engine.connect() as conn:
            found = foryou.ranked(conn, who.user_id, foryou.start_of(window), limit=limit, offset=p * limit,
                                  gems=bool(gems))
    except foryou.Unavailable as e:
        raise ApiError(503, str(e)) from None
    response = JSONResponse([item(card, rec) for card, rec in found.items],
                            headers={"Cache-Control": "private, no-store"})
    if found.more:
        query = urlencode({"window": window, "gems": gems, "limit": limit, "p": p + 1})
        response.headers["Link"] = f'<{siteurl.site_url()}/api/foryou?{query}>; rel="next"'
    return response
