"""
The settings page of a reader's secrets (issue #13): personal access tokens
for the JSON API, the secret feed URLs of their collections and of their
"For you" ranking (issue #14).

`/settings/tokens` lists the reader's API tokens (name, the first characters,
created, last used, expiry) and each feed URL's state; forms create a token (a
name, an optional expiry in days), revoke one, and create, regenerate or revoke
a collection's feed URL or the For you feed URL.  A new token or feed URL is
shown once, on the page that answers the form, and never again: only its hash
is stored (`library.tokens`).  Every form is a POST with a CSRF token; the page
is only for the signed-in reader and is never cached.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from paperfeed import siteurl
from paperfeed.library import collection as coll
from paperfeed.library import tokens
from paperfeed.library.errors import LibraryError, NotFound
from paperfeed.web import accounts
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API
PAGE = "/settings/tokens"
MAX_DAYS = 3650
NO_STORE = {"Cache-Control": "no-store"}  # the page may show a secret
FORYOU_SCOPE = "feed:foryou"
FEED_ACTIONS = ("create", "regenerate", "revoke")


def feed_url(token: str, fmt: str = "atom", kind: str = "library") -> str:
    """The absolute secret address of a collection's feed (`kind` "foryou": the For you feed)."""
    return f"{siteurl.site_url()}/feeds/{kind}/{token}.{fmt}"


def _revoke_live(conn, user_id: int, scope: str) -> None:
    for t in tokens.list_tokens(conn, user_id, scope):
        if t.revoked_at is None:
            tokens.revoke(conn, user_id, t.id)


def _page(request: Request, user, *, new_token=None, new_feed=None, new_foryou=None, error=None,
          status=200) -> Response:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        api_tokens = [t for t in tokens.list_tokens(conn, user.id, "api")]
        feeds, foryou_feed = {}, None
        for t in tokens.list_tokens(conn, user.id, "feed"):
            if t.live and t.scope.startswith("feed:collection:"):
                feeds.setdefault(int(t.scope.rsplit(":", 1)[1]), t)  # newest first
            elif t.live and t.scope == FORYOU_SCOPE:
                foryou_feed = foryou_feed or t
        collections = coll.list_collections(conn, user.id)
    context = {
        "api_tokens": api_tokens,
        "collections": collections,
        "feeds": feeds,
        "new_token": new_token,
        "new_feed": new_feed,
        "foryou_feed": foryou_feed,
        "new_foryou": new_foryou,
        "error": error,
        "max_days": MAX_DAYS,
        "nav": "settings",
    }
    return render(request, "tokens.html", context, status=status, headers=NO_STORE)


@router.get(PAGE)
def tokens_page(request: Request) -> Response:
    user = accounts.require_user(request, PAGE)
    return _page(request, user)


@router.post(PAGE)
def create_token(
    request: Request,
    name: str = Form("", max_length=200),
    expires_days: str = Form("", max_length=10),
    csrf_token: str = Form(""),
) -> Response:
    """A new API token, shown on the page this answers with and never again."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    expires_in = None
    if expires_days.strip():
        try:
            days = int(expires_days)
        except ValueError:
            days = 0
        if not 1 <= days <= MAX_DAYS:
            return _page(request, user, error=f"The expiry is a number of days from 1 to {MAX_DAYS}, or empty for none.", status=400)
        expires_in = timedelta(days=days)
    try:
        with request.app.state.engine.begin() as conn:
            new = tokens.create_token(conn, user.id, "api", name=name, expires_in=expires_in)
    except LibraryError as e:
        return _page(request, user, error=str(e), status=400)
    return _page(request, user, new_token=new)


@router.post(PAGE + "/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, csrf_token: str = Form("")) -> Response:
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    try:
        with request.app.state.engine.begin() as conn:
            tokens.revoke(conn, user.id, token_id)
    except NotFound:
        raise FriendlyError(404, "You have no such token.", "Token not found") from None
    return RedirectResponse(PAGE, status_code=303)


@router.post("/settings/feeds/{collection_id}")
def collection_feed(
    request: Request,
    collection_id: int,
    action: str = Form("create", max_length=20),
    csrf_token: str = Form(""),
    next: str = Form(PAGE, max_length=2000),
) -> Response:
    """Create or regenerate (revoking the old one) a collection's secret feed URL, or revoke it."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    _check_action(action)
    new = None
    try:
        with request.app.state.engine.begin() as conn:
            found = coll.get_collection(conn, user.id, collection_id)
            _revoke_live(conn, user.id, coll.feed_scope(found.id))
            if action != "revoke":
                new = tokens.feed_token(conn, user.id, found.id, name=found.name[:100])
    except NotFound:
        raise FriendlyError(404, "You have no such collection.", "Collection not found") from None
    except LibraryError as e:
        return _page(request, user, error=str(e), status=400)
    if new is None:
        return RedirectResponse(accounts.safe_next(next, PAGE), status_code=303)
    shown = {"collection": found, "atom": feed_url(new.token, "atom"), "rss": feed_url(new.token, "rss")}
    return _page(request, user, new_feed=shown)


def _check_action(action: str) -> None:
    if action not in FEED_ACTIONS:
        raise FriendlyError(400, "The action is create, regenerate or revoke.")


@router.post("/settings/foryou-feed")
def foryou_feed(
    request: Request,
    action: str = Form("create", max_length=20),
    csrf_token: str = Form(""),
) -> Response:
    """Create or regenerate (revoking the old one) the secret For you feed URL, or revoke it."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    _check_action(action)
    new = None
    try:
        with request.app.state.engine.begin() as conn:
            _revoke_live(conn, user.id, FORYOU_SCOPE)
            if action != "revoke":
                new = tokens.feed_token(conn, user.id, name="For you")
    except LibraryError as e:  # too many live tokens
        return _page(request, user, error=str(e), status=400)
    if new is None:
        return RedirectResponse(PAGE + "#foryou-feed", status_code=303)
    shown = {fmt: feed_url(new.token, fmt, kind="foryou") for fmt in ("atom", "rss")}
    return _page(request, user, new_foryou=shown)
