"""
Author pages and following (issue #13): `/authors/{key}` lists an author's
papers newest first with their frequent co-authors, categories and the keys
that may be the same person; `POST /follow` follows or unfollows an author or
a category; `/library/follows` lists what the reader follows.

An author is known by `library.names.author_key` (the folded full name), so
any spelling of a name in the address is sent on to its key's page.  Follow
buttons are forms with a CSRF token that work without JavaScript (the answer
redirects back) and that htmx swaps in place, like the upvote button.  Pages
of visitors carry login links instead of follow buttons.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from paperfeed.library import follows
from paperfeed.library.authors import author_page as author_data
from paperfeed.library.errors import LibraryError
from paperfeed.names import author_key
from paperfeed.web import accounts
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API
PER_PAGE = 50
MAX_PAGE = 200  # an author page goes back at most 10,000 papers


def author_url(key: str) -> str:
    return f"/authors/{quote(key, safe='')}"


def follow_state(request: Request, kind: str, values: list[str]) -> dict[str, bool] | None:
    """Which of `values` (authors or categories) the reader follows; None for a visitor."""
    user = accounts.current_user(request)
    if user is None:
        return None
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        mine = {f.key for f in follows.list_follows(conn, user.id, kind)}
    out = {}
    for value in values:
        try:
            key, _ = follows.target(kind, value)
        except LibraryError:
            continue
        out[value] = key in mine
    return out


@router.get("/authors/{key}")
def author_page(request: Request, key: str, p: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> Response:
    folded = author_key(key[:300])
    if not folded:
        raise FriendlyError(404, "That is not an author's name.", "Author not found")
    if folded != key:
        return RedirectResponse(author_url(folded) + (f"?p={p}" if p > 1 else ""), status_code=301)
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = author_data(conn, folded, limit=PER_PAGE, offset=(p - 1) * PER_PAGE)
    if found is None:
        raise FriendlyError(404, f"No paper stored here has an author named {key!r}.", "Author not found")
    pages = max(1, min(MAX_PAGE, -(-found.total // PER_PAGE)))
    if p > pages:
        raise FriendlyError(404, f"{found.name} has {pages} page{'s' if pages > 1 else ''} of papers.", "No such page")
    categories = [c for c, _ in found.categories]
    mine = follow_state(request, "author", [found.name])
    context = {
        "author": found,
        "page": p,
        "pages": pages,
        "here": author_url(folded) + (f"?p={p}" if p > 1 else ""),
        "following": None if mine is None else mine.get(found.name, False),
        "category_follows": follow_state(request, "category", categories),
    }
    return render(request, "author.html", context)


@router.post("/follow")
def follow(
    request: Request,
    kind: Literal["author", "category"] = Form(...),
    value: str = Form(..., max_length=300),
    action: Literal["follow", "unfollow"] = Form("follow"),
    compact: bool = Form(False),
    csrf_token: str = Form(""),
    next: str = Form("/library/follows", max_length=2000),
) -> Response:
    """Follow or unfollow an author (by name or key) or a category."""
    accounts.check_csrf(request, csrf_token)
    back = accounts.safe_next(next, "/library/follows")
    user = accounts.require_user(request, back)
    engine: Engine = request.app.state.engine
    try:
        with engine.begin() as conn:
            if action == "follow":
                follows.follow(conn, user.id, kind, value)  # an author's label: the name as shown
            else:
                follows.unfollow(conn, user.id, kind, value)
            following = follows.is_following(conn, user.id, kind, value)
    except LibraryError as e:
        raise FriendlyError(400, str(e)) from None
    if request.headers.get("HX-Request"):
        context = {"kind": kind, "value": value, "label": value, "following": following,
                   "next": back, "compact": compact}
        return render(request, "_follow_button.html", context)
    return RedirectResponse(back, status_code=303)


@router.get("/library/follows")
def follows_page(request: Request) -> Response:
    """The authors and categories the reader follows, each with an unfollow button."""
    user = accounts.require_user(request, "/library/follows")
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        mine = follows.list_follows(conn, user.id)
    context = {
        "authors": [f for f in mine if f.kind == "author"],
        "categories": [f for f in mine if f.kind == "category"],
        "nav": "library",
    }
    return render(request, "follows.html", context, headers={"Cache-Control": "no-store"})
