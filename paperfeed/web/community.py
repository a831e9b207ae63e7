"""
What signed-in people do: upvote papers, submit papers to today's list, and
(curators) pin, hide or remove daily entries.

Every action is a POST form with a CSRF token, so it works without JavaScript
(the answer redirects back to the page); with htmx, an upvote answers with the
new button only.  Upvotes and submissions are rate-limited per user (settings
`rate_limit_vote`, `rate_limit_submit`); a reader may submit `submit_per_day`
papers a day, none older than `submit_max_age_days`.  An unknown paper's
metadata is fetched from the arXiv API (`paperfeed.ingest.atom.fetch_ids`) and,
once its age is checked, stored through the shared upsert like any ingested
record.  That lookup is one call with a short timeout and no retries: a web
request must not hold a worker thread through the ingest client's backoff and
`Retry-After` waits, so when arXiv is slow or busy the page says so and asks
the reader to try again.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError

from paperfeed import ids, settings
from paperfeed.models import DailyEntry, Vote
from paperfeed.web import accounts, catalog, pagecache, security
from paperfeed.web.entries import submissions_on
from paperfeed.web.periods import today
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render
from paperfeed.web.votes import upvotes

log = logging.getLogger("paperfeed.web")
router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API (docs/security.md)
votes = Vote.__table__
entries = DailyEntry.__table__
CURATOR_ACTIONS = {
    "pin": {"pinned": True},
    "unpin": {"pinned": False},
    "hide": {"hidden": True},
    "unhide": {"hidden": False},
}


@router.post("/vote")
def vote(
    request: Request,
    arxiv_id: str = Form(..., max_length=200),
    csrf_token: str = Form(""),
    next: str = Form("/", max_length=2000),
) -> Response:
    """Toggle the signed-in user's upvote of a paper."""
    accounts.check_csrf(request, csrf_token)
    back = accounts.safe_next(next)
    user = accounts.require_user(request, back)
    engine: Engine = request.app.state.engine
    security.enforce(engine, "vote", f"user:{user.id}")
    canon = catalog.stored_id(engine, arxiv_id)
    voted = True
    try:
        with engine.begin() as conn:
            where = (votes.c.user_id == user.id, votes.c.arxiv_id == canon)
            if conn.execute(delete(votes).where(*where)).rowcount:
                voted = False
            else:
                conn.execute(insert(votes).values(user_id=user.id, arxiv_id=canon, created_at=datetime.now(UTC)))
    except IntegrityError:  # a double click raced us: the vote is there either way
        pass
    pagecache.invalidate()
    with engine.connect() as conn:
        count = upvotes(conn, canon)
    if request.headers.get("HX-Request"):
        context = {"arxiv_id": canon, "upvotes": count, "voted": voted, "next": back}
        return render(request, "_vote.html", context)
    return RedirectResponse(back, status_code=303)


def _submit_form(request: Request, error: str | None = None, value: str = "", status: int = 200) -> Response:
    context = {
        "error": error,
        "value": value,
        "max_age": settings.get_int("submit_max_age_days"),
        "per_day": settings.get_int("submit_per_day"),
        "day": today(),
    }
    return render(request, "submit.html", context, status)


@router.get("/submit")
def submit_page(request: Request) -> Response:
    accounts.require_user(request, "/submit")
    return _submit_form(request)


ARXIV_TIMEOUT = 10.0  # seconds a submission waits for arXiv to answer
ARXIV_TURN_WAIT = 5.0  # seconds it waits for its polite turn (one request ahead at the default delay)


def _lookup(canon: str):
    """`canon`'s metadata from the arXiv API (one call, no retries); None when arXiv does not know it."""
    from paperfeed.ingest.atom import fetch_ids

    found = fetch_ids([canon], retries=0, timeout=ARXIV_TIMEOUT, max_wait=ARXIV_TURN_WAIT)
    records = [r for r in found if r.arxiv_id == canon and not r.problems()]
    return records[0] if records else None


def _arxiv_failed(request: Request, canon: str, error: OSError | ValueError, value: str) -> Response:
    """The submit form saying why arXiv could not look `canon` up, and when to try again."""
    log.warning("arXiv lookup for %s failed: %s", canon, error)
    retry_after = getattr(error, "retry_after", None)
    if getattr(error, "timed_out", False):
        message = f"arXiv did not answer within {ARXIV_TIMEOUT:.0f} seconds, so {canon} could not be looked up. Please try again in a minute."
        return _submit_form(request, message, value, 504)
    if retry_after is not None or getattr(error, "status", None) in (429, 503):
        wait = max(1, round((retry_after or 60) / 60))
        message = f"arXiv is busy and asked us to wait, so {canon} could not be looked up. Please try again in {wait} minute{'s' if wait > 1 else ''}."
        response = _submit_form(request, message, value, 503)
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after or 60)))
        return response
    return _submit_form(request, "arXiv could not be reached to look this paper up. Try again later.", value, 502)


def _first_published(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


@router.post("/submit")
def submit(
    request: Request,
    paper: str = Form("", max_length=500),
    csrf_token: str = Form(""),
) -> Response:
    """Add a paper, by arXiv id or URL, to today's list."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, "/submit")
    engine: Engine = request.app.state.engine
    security.enforce(engine, "submit", f"user:{user.id}")
    privileged = accounts.has_role(user, "curator")
    try:
        canon = ids.canonical(paper.strip())
    except ids.BadArxivId:
        return _submit_form(request, "Enter an arXiv id such as 2406.09415 or an arxiv.org link.", paper, 400)
    day = today()
    with engine.connect() as conn:
        row = catalog.get_paper(conn, canon)
        if not privileged and submissions_on(conn, user.id, day) >= settings.get_int("submit_per_day"):
            message = f"You have submitted {settings.get_int('submit_per_day')} papers today, the daily limit. Thank you!"
            return _submit_form(request, message, paper, 429)
    record = None
    if row is None:
        try:
            record = _lookup(canon)
        except (OSError, ValueError) as e:  # FetchError is an OSError
            return _arxiv_failed(request, canon, e, paper)
        if record is None:
            return _submit_form(request, f"arXiv has no paper {canon}.", paper, 404)
    published = _first_published(row.published if row is not None else record.published)
    max_age = settings.get_int("submit_max_age_days")
    oldest = datetime.now(UTC) - timedelta(days=max_age)
    # checked before an unknown paper is stored: a refused submission leaves nothing behind
    if not privileged and published is not None and published < oldest:
        message = f"{canon} was first published on {published.date().isoformat()}; only papers from the last {max_age} days can be submitted."
        return _submit_form(request, message, paper, 400)
    if record is not None:
        from paperfeed.ingest.upsert import write_batch

        write_batch(engine, [record])
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(entries).values(
                    day=day, arxiv_id=canon, curated=False, submitted_by_user=user.id,
                    submitted_by_name=user.username, imported_upvotes=0, pinned=False,
                    hidden=False, created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        return _submit_form(request, f"{canon} is already on today's list.", paper, 409)
    pagecache.invalidate()
    return RedirectResponse(f"/papers/{canon}?submitted=1", status_code=303)


@router.post("/curate")
def curate(
    request: Request,
    entry_id: int = Form(...),
    action: str = Form(...),
    csrf_token: str = Form(""),
    next: str = Form("/", max_length=2000),
) -> Response:
    """Pin, unpin, hide, unhide or remove a daily entry (curators and admins)."""
    accounts.check_csrf(request, csrf_token)
    back = accounts.safe_next(next)
    user = accounts.require_user(request, back)
    if not accounts.has_role(user, "curator"):
        raise FriendlyError(403, "Only curators can change daily lists.")
    if action not in (*CURATOR_ACTIONS, "remove"):
        raise FriendlyError(400, "Unknown action.")
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        if action == "remove":
            done = conn.execute(delete(entries).where(entries.c.id == entry_id)).rowcount
        else:
            stmt = update(entries).where(entries.c.id == entry_id).values(**CURATOR_ACTIONS[action])
            done = conn.execute(stmt).rowcount
    if not done:
        raise FriendlyError(404, "That entry is no longer on the list.")
    pagecache.invalidate()
    log.info("curator %s: %s entry %s", user.username, action, entry_id)
    return RedirectResponse(back, status_code=303)
