"""
The "For you" page: a window's new papers ranked for the signed-in reader,
each card saying why, with a "not interested" button and a hidden-gems switch.

`/for-you?window=day|week|month|since&gems=1&page=N`.  "since" is the reader's
previous visit, kept in the session cookie (there is no column for it: a new
browser starts from a week).  A reader with nothing saved and nothing followed
gets the onboarding instead: follow categories here, or import papers at
`/library/import`.  "Not interested" (`POST /for-you/dismiss`, a form that
works without JavaScript; htmx removes the card) writes a `dismissals` row,
which hides the paper from For you only, not from search or the daily lists.
The ranking itself is `web.foryou`, shared with the private feed and the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from paperfeed.library import follows as library_follows
from paperfeed.models import Dismissal, Paper
from paperfeed.recommend import spans
from paperfeed.web import accounts, catalog, foryou
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API
PAGE_SIZE = 20
MAX_PAGE = 25  # foryou.DEPTH: 500 ranked papers deep
WINDOW_NAMES = {"day": "Today", "week": "This week", "month": "This month", "since": "Since your last visit"}
VISIT_GAP = timedelta(minutes=30)  # page views closer than this are one visit
ONBOARDING_CATEGORIES = 16


def _since_last_visit(request: Request, now: datetime) -> datetime:
    """Start of the "since your last visit" window; records this visit in the session."""
    sess = accounts.session(request)
    seen, prev = sess.get("fy_seen"), sess.get("fy_prev")
    if not isinstance(seen, (int, float)) or now.timestamp() - seen > VISIT_GAP.total_seconds():
        prev = seen if isinstance(seen, (int, float)) else None
        sess["fy_prev"] = prev
    sess["fy_seen"] = int(now.timestamp())
    request.state.session_changed = True
    start = datetime.fromtimestamp(prev, UTC) if isinstance(prev, (int, float)) else now - spans.WINDOWS["week"]
    start = max(start, now - spans.WINDOWS["month"])  # older visits: a month, what a window holds
    return start.replace(minute=0, second=0, microsecond=0)


def _onboarding_categories(engine: Engine) -> list[str]:
    papers = Paper.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(papers.c.primary_category, func.count()).where(papers.c.primary_category.is_not(None))
            .group_by(papers.c.primary_category).order_by(func.count().desc()).limit(ONBOARDING_CATEGORIES)
        ).all()
    return sorted(r[0] for r in rows)


@router.get("/for-you", response_class=HTMLResponse)
def for_you(
    request: Request,
    window: str = Query("week", max_length=10),
    gems: int = Query(0, ge=0, le=1),
    page: int = Query(1, ge=1, le=MAX_PAGE),
) -> Response:
    """The signed-in reader's ranked window."""
    if window not in WINDOW_NAMES:
        window = "week"
    back = f"/for-you?window={window}" + ("&gems=1" if gems else "") + (f"&page={page}" if page > 1 else "")
    user = accounts.require_user(request, back)
    engine: Engine = request.app.state.engine
    now = datetime.now(UTC)
    start = _since_last_visit(request, now) if window == "since" else foryou.start_of(window, now)
    context = {"nav": "foryou", "window": window, "windows": WINDOW_NAMES, "gems": bool(gems), "page": page,
               "back": back, "since": start, "items": [], "onboarding": False, "unavailable": None,
               "has_next": False, "categories": []}
    try:
        with engine.connect() as conn:
            found = foryou.ranked(conn, user.id, start, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                  gems=bool(gems))
    except foryou.Unavailable as e:
        context["unavailable"] = str(e)
    else:
        context.update(items=found.items, onboarding=found.onboarding, has_next=found.more and page < MAX_PAGE)
    if context["onboarding"]:
        context["categories"] = _onboarding_categories(engine)
    return render(request, "foryou.html", context)


@router.post("/for-you/dismiss")
def dismiss(
    request: Request,
    arxiv_id: str = Form(..., max_length=200),
    csrf_token: str = Form(""),
    next: str = Form("/for-you", max_length=2000),
) -> Response:
    """"Not interested": hide the paper from this reader's For you (a negative example)."""
    accounts.check_csrf(request, csrf_token)
    back = accounts.safe_next(next, "/for-you")
    user = accounts.require_user(request, back)
    engine: Engine = request.app.state.engine
    canon = catalog.stored_id(engine, arxiv_id)
    try:
        with engine.begin() as conn:
            conn.execute(insert(Dismissal.__table__).values(user_id=user.id, arxiv_id=canon,
                                                            created_at=datetime.now(UTC)))
    except IntegrityError:  # dismissed already (a double click): it is hidden either way
        pass
    if request.headers.get("HX-Request"):
        return HTMLResponse("")  # htmx swaps the card out
    return RedirectResponse(back, status_code=303)


@router.post("/for-you/follow")
def follow_categories(
    request: Request,
    category: list[str] | None = Form(None),  # noqa: B008 -- a repeated field; None is immutable
    other: str = Form("", max_length=300),
    csrf_token: str = Form(""),
) -> Response:
    """Onboarding: follow the ticked categories (and one typed in)."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, "/for-you")
    engine: Engine = request.app.state.engine
    chosen = [c.strip() for c in [*(category or [])[:50], *other.replace(",", " ").split()[:10]] if c.strip()]
    if not chosen:
        raise FriendlyError(400, "Pick at least one category to follow.")
    try:
        with engine.begin() as conn:
            for cat in dict.fromkeys(chosen):
                library_follows.follow_category(conn, user.id, cat)
    except ValueError as e:  # LibraryError: a malformed category, said in words
        raise FriendlyError(400, str(e)) from None
    return RedirectResponse("/for-you", status_code=303)
