"""
What signed-in people do: upvote papers, submit papers to today's list, and
(curators) pin, hide or remove daily entries.

Every action is a POST form with a CSRF token, so it works without JavaScript
(the answer redirects back to the page); with htmx, an upvote answers with the
new button only.  Upvotes and submissions are rate-limited per user (settings
`rate_limit_vote`, `rate_limit_submit`).  What a submission may be (a day's
limit, the paper's age, an arXiv lookup for a paper not stored yet) is
`submissions.submit`, which `POST /api/papers/index` shares; this form shows
its refusals.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError

from paperfeed import settings
from paperfeed.models import DailyEntry, Vote
from paperfeed.web import accounts, catalog, pagecache, security, submissions
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


@router.post("/submit")
def submit(
    request: Request,
    paper: str = Form("", max_length=500),
    csrf_token: str = Form(""),
) -> Response:
    """Add a paper, by arXiv id or URL, to today's list (the rules: `submissions.submit`)."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, "/submit")
    try:
        canon = submissions.submit(request.app.state.engine, user.id, user.username, user.role, paper)
    except submissions.Refused as e:
        response = _submit_form(request, e.message, paper, e.status)
        if e.retry_after is not None:
            response.headers["Retry-After"] = str(e.retry_after)
        return response
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
