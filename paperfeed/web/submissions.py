"""
Submitting a paper to today's list: the rules that the submit form
(`community.py`) and `POST /api/papers/index` share, and that API route.

A reader may submit `submit_per_day` papers a day, none first published more
than `submit_max_age_days` ago (curators and admins are not limited), and each
attempt counts against the per-user `rate_limit_submit`.  An unknown paper's
metadata is fetched from the arXiv API (`paperfeed.ingest.atom.fetch_ids`)
and, once its age is checked, stored through the shared upsert like any
ingested record: a refused submission leaves nothing behind.  That lookup is
one call with a short timeout and no retries: a web request must not hold a
worker thread through the ingest client's backoff and `Retry-After` waits, so
when arXiv is slow or busy the answer says so and when to try again.

`submit` raises `Refused` (a status, a message, perhaps a `Retry-After`) for
every rule broken; the form shows the message, the API answers it as
`{"error": message}`.  The API route is reached with a personal access token
(`Authorization: Bearer pf_…`, scope `api`), like the library's API.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from paperfeed import ids, settings
from paperfeed.models import DailyEntry
from paperfeed.web import accounts, catalog, hf_json, pagecache, security
from paperfeed.web.cards import listed_cards
from paperfeed.web.entries import submissions_on
from paperfeed.web.hf_json import NO_NUL, error_response, error_responses
from paperfeed.web.library_api import ERRORS as TOKEN_ERRORS
from paperfeed.web.library_api import LibraryRoute, Reader
from paperfeed.web.periods import today

log = logging.getLogger("paperfeed.web")
entries = DailyEntry.__table__
NOT_AN_ID = "Enter an arXiv id such as 2406.09415 or an arxiv.org link."
ARXIV_TIMEOUT = 10.0  # seconds a submission waits for arXiv to answer
ARXIV_TURN_WAIT = 5.0  # seconds it waits for its polite turn (one request ahead at the default delay)


class Refused(Exception):
    """A submission that breaks a rule: answered with `status` and `message`."""

    def __init__(self, status: int, message: str, retry_after: int | None = None, api_status: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after
        # the API's status where it differs from the form's: a body the schema allows is never a 400
        self.api_status = api_status or status


def _lookup(canon: str):
    """`canon`'s metadata from the arXiv API (one call, no retries); None when arXiv does not know it."""
    from paperfeed.ingest.atom import fetch_ids

    found = fetch_ids([canon], retries=0, timeout=ARXIV_TIMEOUT, max_wait=ARXIV_TURN_WAIT)
    records = [r for r in found if r.arxiv_id == canon and not r.problems()]
    return records[0] if records else None


def _arxiv_failed(canon: str, error: OSError | ValueError) -> Refused:
    """Why arXiv could not look `canon` up, and when to try again."""
    log.warning("arXiv lookup for %s failed: %s", canon, error)
    retry_after = getattr(error, "retry_after", None)
    if getattr(error, "timed_out", False):
        return Refused(504, f"arXiv did not answer within {ARXIV_TIMEOUT:.0f} seconds, so {canon} could not be "
                            "looked up. Please try again in a minute.")
    if retry_after is not None or getattr(error, "status", None) in (429, 503):
        wait = max(1, round((retry_after or 60) / 60))
        return Refused(503, f"arXiv is busy and asked us to wait, so {canon} could not be looked up. "
                            f"Please try again in {wait} minute{'s' if wait > 1 else ''}.",
                       max(1, math.ceil(retry_after or 60)))
    return Refused(502, "arXiv could not be reached to look this paper up. Try again later.")


def _first_published(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _until_tomorrow(now: datetime) -> int:
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
    return max(1, math.ceil((tomorrow - now).total_seconds()))


def submit(engine: Engine, user_id: int, username: str, role: str, text: str) -> str:
    """Put the paper `text` names (an arXiv id or link) on today's list for this reader.

    Returns its canonical id; raises `Refused`, or `security.RateLimited` past
    `rate_limit_submit`."""
    security.enforce(engine, "submit", f"user:{user_id}")
    privileged = accounts.role_at_least(role, "curator")
    try:
        canon = ids.canonical(text.strip())
    except ids.BadArxivId:
        raise Refused(400, NOT_AN_ID, api_status=404) from None  # names no paper, as GET /api/papers/{id}
    day = today()
    per_day = settings.get_int("submit_per_day")
    with engine.connect() as conn:
        row = catalog.get_paper(conn, canon)
        if not privileged and submissions_on(conn, user_id, day) >= per_day:
            raise Refused(429, f"You have submitted {per_day} papers today, the daily limit. Thank you!",
                          _until_tomorrow(datetime.now(UTC)))
    record = None
    if row is None:
        try:
            record = _lookup(canon)
        except (OSError, ValueError) as e:  # FetchError is an OSError
            raise _arxiv_failed(canon, e) from None
        if record is None:
            raise Refused(404, f"arXiv has no paper {canon}.")
    published = _first_published(row.published if row is not None else record.published)
    max_age = settings.get_int("submit_max_age_days")
    oldest = datetime.now(UTC) - timedelta(days=max_age)
    # checked before an unknown paper is stored: a refused submission leaves nothing behind
    if not privileged and published is not None and published < oldest:
        raise Refused(400, f"{canon} was first published on {published.date().isoformat()}; only papers "
                           f"from the last {max_age} days can be submitted.", api_status=403)  # curators may
    if record is not None:
        from paperfeed.ingest.upsert import write_batch

        write_batch(engine, [record])
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(entries).values(
                    day=day, arxiv_id=canon, curated=False, submitted_by_user=user_id,
                    submitted_by_name=username, imported_upvotes=0, pinned=False,
                    hidden=False, created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        raise Refused(409, f"{canon} is already on today's list.") from None
    pagecache.invalidate()
    return canon


# --- POST /api/papers/index --------------------------------------------------------------

router = APIRouter(route_class=LibraryRoute, tags=["Hugging Face-compatible API"])


class IndexIn(BaseModel):
    arxiv_id: str = Field(min_length=1, max_length=500, pattern=NO_NUL,
                          description="An arXiv id or link: `2406.09415`, `2406.09415v2`, `https://arxiv.org/abs/2406.09415`.")


def _responses() -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {**TOKEN_ERRORS, **error_responses(403, 404, 409, 429, 502, 503, 504)}
    meanings = {
        400: "A body that is not what the schema says.",
        403: "A paper older than the site takes (`PAPERFEED_SUBMIT_MAX_AGE_DAYS`); curators and admins may submit it.",
        404: "arXiv has no such paper, or `arxiv_id` is not an arXiv id or link.",
        429: "Too many submissions: the daily limit (`PAPERFEED_SUBMIT_PER_DAY`) or the rate limit; "
             "wait `Retry-After` seconds.",
    }
    for status, meaning in meanings.items():
        out[status] = {**out[status], "description": meaning}
    return out


@router.post(
    "/api/papers/index",
    summary="Submit a paper to today's list",
    description="Puts a paper on today's daily list as your submission, under the submit form's rules: "
    "at most `PAPERFEED_SUBMIT_PER_DAY` a day, first published in the last `PAPERFEED_SUBMIT_MAX_AGE_DAYS` "
    "days (curators and admins are not limited). A paper not stored yet is looked up on arXiv. "
    "Needs a personal access token (`Authorization: Bearer pf_…`).",
    status_code=201,
    response_model=hf_json.HFListItem,
    responses={201: {"description": "Submitted: the paper as today's list shows it."}, **_responses()},
)
def index_paper(request: Request, who: Reader, body: Annotated[IndexIn, Body()]) -> Response:
    engine: Engine = request.app.state.engine
    try:
        canon = submit(engine, who.user_id, who.username, who.role, body.arxiv_id)
    except Refused as e:
        response = error_response(e.api_status, e.message)
        if e.retry_after is not None:
            response.headers["Retry-After"] = str(e.retry_after)
        return response
    card = listed_cards(engine, [canon])[0]  # with its first daily list, as the API shows it everywhere
    return JSONResponse(hf_json.list_item(card), status_code=201)
