"""
The reader's library on the web: the save button on every card and paper page,
the library page (`/library`: saved papers with their collections and notes,
filtered, sorted, paged, beside the authors and categories the reader follows), the
forms that change it, and a collection's public
page at `/u/<username>/c/<slug>`.

Every change is a POST form with the CSRF token from a signed-in reader, so it
works without JavaScript (the answer redirects back, to a local path only);
with htmx, saving answers with the new button alone.  The library, its notes and
private collections exist only for their owner: anyone else gets 404, never 403
(issue #13), and the public page shows no notes.  Importing and exporting live
in `library_transfer`.  The work is done by `paperfeed.library`; this module
only reads forms and renders pages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from starlette.convertors import Convertor, register_url_convertor

from paperfeed.library import collection as coll
from paperfeed.library import follows, listing
from paperfeed.library import saved as library
from paperfeed.library.errors import LibraryError, NotFound, TooLarge
from paperfeed.web import accounts, cards, catalog, periods
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # pages, not API: kept out of the OpenAPI schema

PAGE_SIZE = 50
MAX_PAGE = 1000
LIBRARY = "/library"
SORT_LABELS = {"saved": "Saved", "published": "Published", "title": "Title"}
DONE = {  # what a redirect back says happened; fixed texts, so nothing from the URL is echoed
    "note": "Note saved.",
    "added": "Added to the collection.",
    "removed": "Removed from the collection.",
    "created": "Collection created.",
    "changed": "Collection changed.",
    "public": "The collection is public now: anyone with its address can see it (not your notes).",
    "private": "The collection is private now: only you can see it.",
    "deleted": "Collection deleted; its papers stay in your library.",
    "unsaved": "Removed from your library.",
}


class SlugConvertor(Convertor):
    """A collection slug (`slugify`'s letters, digits and hyphens): `/u/a/c/x.rss` is left to feeds."""

    regex = "[a-z0-9-]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("collection_slug", SlugConvertor())


def public_url(username: str, slug: str) -> str:
    """A public collection's page (the address stays when the collection is renamed)."""
    return f"/u/{username}/c/{slug}"


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _back(next_url: str, done: str | None = None, default: str = LIBRARY) -> str:
    """`next_url` if local (else `default`), with `done=` set to say what happened."""
    target = accounts.safe_next(next_url, default)
    if done is None:
        return target
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"] + [("done", done)]
    return f"{parts.path}?{urlencode(query)}"


def _change(request: Request, csrf_token: str, next_url: str, done: str, change) -> Response:
    """One form's change to the signed-in reader's library: CSRF, sign-in, `change(conn,
    user_id)` in one transaction, then back to `next_url` saying `done` (or why not)."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, LIBRARY)
    try:
        with _engine(request).begin() as conn:
            change(conn, user.id)
    except LibraryError as e:
        return _refused(request, e, next_url)
    return RedirectResponse(_back(next_url, done), status_code=303)


def _refused(request: Request, error: LibraryError, next_url: str) -> Response:
    """The library page again (as `next_url` showed it) saying why a change was refused."""
    if isinstance(error, NotFound):
        raise FriendlyError(404, "That is not in your library.")
    user = accounts.require_user(request, LIBRARY)
    query = dict(parse_qsl(urlsplit(accounts.safe_next(next_url, LIBRARY)).query))
    query.pop("done", None)
    status = 413 if isinstance(error, TooLarge) else 400
    message = str(error)
    return library_view(request, user, query, error=message[:1].upper() + message[1:] + ".", status=status)


# --- saving ------------------------------------------------------------------------


@router.post("/library/save")
def save_paper(
    request: Request,
    arxiv_id: str = Form(..., max_length=200),
    action: str = Form("save", max_length=10),
    csrf_token: str = Form(""),
    next: str = Form("/", max_length=2000),
) -> Response:
    """Save a paper to the reader's library (its Reading list), or take it out."""
    accounts.check_csrf(request, csrf_token)
    back = accounts.safe_next(next)
    user = accounts.require_user(request, back)
    if action not in ("save", "unsave"):
        raise FriendlyError(400, "Choose save or unsave.")
    try:
        with _engine(request).begin() as conn:
            if action == "save":
                canon = library.save(conn, user.id, arxiv_id).arxiv_id
            else:
                canon = library.paper_id(conn, arxiv_id)
                library.unsave(conn, user.id, canon)
    except NotFound:
        raise FriendlyError(404, "No such paper is stored here.", "Paper not found") from None
    if request.headers.get("HX-Request"):
        context = {"card": {"arxiv_id": canon, "saved": action == "save"}, "back": back}
        return render(request, "_save.html", context)
    return RedirectResponse(back, status_code=303)


# --- the library page --------------------------------------------------------------


def _day(value: str, name: str):
    if not value:
        return None
    try:
        return periods.parse_day(value)
    except periods.PeriodError:
        raise FriendlyError(400, f"The “{name}” date must look like 2024-01-31.") from None


def _page_number(value: str) -> int:
    try:
        page = int(value or 1)
    except ValueError:
        raise FriendlyError(400, "The page must be a number.") from None
    if not 1 <= page <= MAX_PAGE:
        raise FriendlyError(400, f"Pages go from 1 to {MAX_PAGE}.")
    return page


def library_view(
    request: Request, user, query: Mapping[str, str], *, error: str | None = None, status: int = 200
) -> Response:
    """The library page for these filters (`collection` slug, `category`, `saved_from`,
    `saved_to`, `sort`, `p`), perhaps with an error from a refused change."""
    slug = (query.get("collection") or "")[:100]
    category = (query.get("category") or "").strip()[:64]
    sort = query.get("sort") or "saved"
    if sort not in listing.SORTS:
        raise FriendlyError(400, f"Sort by one of: {', '.join(listing.SORTS)}.")
    saved_from, saved_to = _day(query.get("saved_from", ""), "saved from"), _day(query.get("saved_to", ""), "saved until")
    page = _page_number(query.get("p", ""))
    with _engine(request).begin() as conn:  # begin: the Reading list is made on first visit
        coll.default_collection(conn, user.id)
        collections = coll.list_collections(conn, user.id)
        chosen = next((c for c in collections if c.slug == slug), None)
        if slug and chosen is None:
            raise FriendlyError(404, "You have no such collection.")
        try:
            found = listing.list_saved(
                conn, user.id, collection=chosen.id if chosen else None, category=category or None,
                saved_from=saved_from, saved_to=saved_to + timedelta(days=1) if saved_to else None,
                sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
            )
        except LibraryError as e:
            raise FriendlyError(400, str(e)[:1].upper() + str(e)[1:] + ".") from None
        categories = catalog.categories(conn)
        followed = follows.list_follows(conn, user.id)
    pages = max(math.ceil(found.total / PAGE_SIZE), 1)
    if page > pages:
        raise FriendlyError(404, "There are not that many pages.")
    filters = {k: v for k, v in {
        "collection": slug, "category": category, "saved_from": query.get("saved_from", ""),
        "saved_to": query.get("saved_to", ""), "sort": sort if sort != "saved" else "",
    }.items() if v}
    here = LIBRARY + ("?" + urlencode({**filters, **({"p": page} if page > 1 else {})}) if filters or page > 1 else "")
    context = {
        "nav": "library",
        "items": found.items,
        "total": found.total,
        "collections": collections,
        "by_id": {c.id: c for c in collections},
        "chosen": chosen,
        "category": category,
        "categories": categories,
        "saved_from": query.get("saved_from", ""),
        "saved_to": query.get("saved_to", ""),
        "sort": sort,
        "sort_labels": SORT_LABELS,
        "filters": filters,
        "filtered": bool(category or saved_from or saved_to),
        "page": page,
        "pages": pages,
        "here": here,
        "pager_base": LIBRARY + "?" + (urlencode(filters) + "&" if filters else ""),
        "error": error,
        "done": DONE.get(query.get("done", "")),
        "max_note": library.MAX_NOTE,
        "max_name": coll.MAX_NAME,
        "max_description": coll.MAX_DESCRIPTION,
        "public_url": public_url,
        "username": user.username,
        "followed_authors": [f for f in followed if f.kind == "author"],
        "followed_categories": [f for f in followed if f.kind == "category"],
    }
    response = render(request, "library.html", context, status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/library")
def library_page(
    request: Request,
    collection: Annotated[str, Query(max_length=100)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    saved_from: Annotated[str, Query(max_length=20)] = "",
    saved_to: Annotated[str, Query(max_length=20)] = "",
    sort: Annotated[str, Query(max_length=20)] = "saved",
    p: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    user = accounts.require_user(request, str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
    query = {"collection": collection, "category": category, "saved_from": saved_from, "saved_to": saved_to,
             "sort": sort, "p": str(p), "done": done}
    return library_view(request, user, query)


# --- changing a saved paper --------------------------------------------------------


@router.post("/library/papers/collections")
def paper_collections(
    request: Request,
    arxiv_id: str = Form(..., max_length=200),
    collection: int = Form(...),
    action: str = Form("add", max_length=10),
    csrf_token: str = Form(""),
    next: str = Form(LIBRARY, max_length=2000),
) -> Response:
    """Put a saved paper in one of the reader's collections, or take it out of one."""
    if action not in ("add", "remove"):
        accounts.check_csrf(request, csrf_token)
        raise FriendlyError(400, "Choose add or remove.")
    move = library.add_to_collection if action == "add" else library.remove_from_collection

    def change(conn, uid: int) -> None:
        coll.get_collection(conn, uid, collection)  # someone else's: NotFound
        move(conn, uid, arxiv_id, collection)

    return _change(request, csrf_token, next, "added" if action == "add" else "removed", change)


@router.post("/library/papers/note")
def paper_note(
    request: Request,
    arxiv_id: str = Form(..., max_length=200),
    note: str = Form(""),  # no max_length: a note over the limit gets the library's message, not "check note"
    csrf_token: str = Form(""),
    next: str = Form(LIBRARY, max_length=2000),
) -> Response:
    """Replace the private note of a saved paper (an empty one clears it)."""
    return _change(request, csrf_token, next, "note", lambda conn, uid: library.set_note(conn, uid, arxiv_id, note))


# --- collections -------------------------------------------------------------------


@router.post("/library/collections")
def create_collection(
    request: Request,
    name: str = Form("", max_length=1000),
    description: str = Form("", max_length=20_000),
    public: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form(LIBRARY, max_length=2000),
) -> Response:
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, LIBRARY)
    try:
        with _engine(request).begin() as conn:
            made = coll.create_collection(conn, user.id, name, description, public=bool(public))
    except LibraryError as e:
        return _refused(request, e, next)
    return RedirectResponse(f"{LIBRARY}?{urlencode({'collection': made.slug, 'done': 'created'})}", status_code=303)


@router.post("/library/collections/{collection_id}")
def change_collection(
    request: Request,
    collection_id: int,
    name: str = Form("", max_length=1000),
    description: str = Form("", max_length=20_000),
    csrf_token: str = Form(""),
    next: str = Form(LIBRARY, max_length=2000),
) -> Response:
    """Rename a collection and change its description (its address stays)."""

    def change(conn, uid: int) -> None:
        coll.rename_collection(conn, uid, collection_id, name)
        coll.describe_collection(conn, uid, collection_id, description)

    return _change(request, csrf_token, next, "changed", change)


@router.post("/library/collections/{collection_id}/visibility")
def collection_visibility(
    request: Request,
    collection_id: int,
    public: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form(LIBRARY, max_length=2000),
) -> Response:
    """Make a collection public (`public=1`) or private."""
    make_public = public == "1"
    return _change(request, csrf_token, next, "public" if make_public else "private",
                   lambda conn, uid: coll.set_public(conn, uid, collection_id, make_public))


@router.post("/library/collections/{collection_id}/delete")
def delete_collection(
    request: Request,
    collection_id: int,
    csrf_token: str = Form(""),
) -> Response:
    """Delete a collection; its papers stay saved (the Reading list refuses)."""
    return _change(request, csrf_token, LIBRARY, "deleted",
                   lambda conn, uid: coll.delete_collection(conn, uid, collection_id))


# --- a public collection -----------------------------------------------------------


@router.get("/u/{username}/c/{slug:collection_slug}")
def public_collection(
    request: Request,
    username: str,
    slug: str,
    sort: Annotated[str, Query(max_length=20)] = "saved",
    p: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """A public collection for anyone (without notes); private or missing: 404, except
    that its owner sees it too, marked private, as others would see it once public."""
    if sort not in listing.SORTS:
        raise FriendlyError(400, f"Sort by one of: {', '.join(listing.SORTS)}.")
    user = accounts.current_user(request)
    options = {"sort": sort, "limit": PAGE_SIZE, "offset": (p - 1) * PAGE_SIZE}
    with _engine(request).connect() as conn:
        found = listing.public_page(conn, username, slug, **options)
        if found is None and user is not None and user.username == username:
            try:
                mine = coll.get_collection(conn, user.id, slug)
            except NotFound:
                mine = None
            if mine is not None:
                found = mine, listing.list_saved(conn, user.id, collection=mine.id, notes=False, **options)
        if found is None:
            raise FriendlyError(404, "There is no public collection at this address.", "Collection not found")
        info, page = found
        shown = cards.paper_cards(conn, [i.arxiv_id for i in page.items], user.id if user else None)
        cards.mark_saved(conn, shown, user.id if user else None)
    pages = max(math.ceil(page.total / PAGE_SIZE), 1)
    if p > pages:
        raise FriendlyError(404, "There are not that many pages.")
    here = public_url(username, info.slug)
    context = {
        "collection": info,
        "owner": username,
        "cards": shown,
        "total": page.total,
        "sort": sort,
        "sort_labels": SORT_LABELS,
        "page": p,
        "pages": pages,
        "here": here,
        "back": here + (f"?sort={sort}" if sort != "saved" else "") + (f"{'&' if sort != 'saved' else '?'}p={p}" if p > 1 else ""),
        "pager_base": here + "?" + (f"sort={sort}&" if sort != "saved" else ""),
        "is_owner": user is not None and user.id == info.user_id,
    }
    response = render(request, "library_public.html", context)
    if not info.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    return response
