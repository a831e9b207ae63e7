"""
Feeds of a reader's collections (issue #13), RSS 2.0 and Atom made by `feeds.build`.

- `/feeds/library/{token}.atom|.rss`: any collection at its secret address.
  The token (scope `feed:collection:<id>`, `library.tokens.feed_token`) is
  the only credential: a revoked or unknown token, one of a disabled account,
  or one whose collection is gone answers 404, the same as a feed that never
  existed.  Answers are `Cache-Control: private, no-cache` (revalidated with
  the ETag each time), so a shared cache never holds a private feed and a
  revoked address stops at once.
- `/feeds/u/{username}/{slug}.atom|.rss`: a public collection's public feed;
  a private collection, a missing one or a disabled owner's is 404.

Entries are the collection's most recently saved papers, dated when they were
saved; notes never appear in a feed.  Every link is absolute from
`siteurl.site_url()`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy import select

from paperfeed import siteurl
from paperfeed.library import listing, tokens
from paperfeed.library.collection import CollectionInfo, get_collection, public_collection
from paperfeed.library.errors import NotFound
from paperfeed.web import cards
from paperfeed.web.feeds import FEED_RESPONSES, Format, build, respond, self_url
from paperfeed.web.hf_json import ApiError, HFRoute, error_responses

router = APIRouter(route_class=HFRoute, tags=["Feeds"])
FEED_MAX = 100  # newest saved papers in a collection's feed
USERNAME = r"^[A-Za-z0-9_-]{2,32}$"  # as accounts.USERNAME
SLUG = r"^[a-z0-9-]{1,80}$"  # as collection.slugify makes them
NOT_FOUND = "No such feed."
RESPONSES = {**FEED_RESPONSES, **error_responses(404)}


def _feed(request: Request, fmt: Format, conn, found: CollectionInfo, owner: str, private: bool) -> Response:
    page = listing.list_saved(conn, found.user_id, collection=found.id, sort="saved", limit=FEED_MAX, notes=False)
    saved_at = {item.arxiv_id: item.saved_at for item in page.items}
    rows = cards.paper_cards(conn, list(saved_at))
    base = siteurl.site_url()
    body, modified = build(
        fmt,
        rows,
        title=f"{found.name} · {owner}",
        description=found.description or f"Papers {owner} keeps in “{found.name}” on paperfeed.",
        base=base,
        html_url=f"{base}/library?collection={found.slug}" if private else f"{base}/u/{owner}/c/{found.slug}",
        self_url=self_url(base, request),
        dated=lambda card: saved_at.get(card.arxiv_id),
    )
    response = respond(request, fmt, body, modified)
    if private:
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers["Referrer-Policy"] = "no-referrer"  # the address is the secret
    return response


@router.get(
    "/feeds/library/{token}.{fmt}",
    summary="A collection's secret feed",
    description="One of a reader's collections (private ones included) at the secret address made on "
    "the settings page (`/settings/tokens`): its newest saved papers, as `rss` (RSS 2.0) or `atom`. "
    "A revoked or unknown address answers 404.",
    response_class=Response,
    responses=RESPONSES,
)
def secret_feed(
    request: Request,
    token: Annotated[str, Path(max_length=200, description="The feed's secret token (`pf_…`).")],
    fmt: Format,
) -> Response:
    engine = request.app.state.engine
    with engine.begin() as conn:
        scope = None
        if token.startswith(tokens.PREFIX):
            scope = conn.execute(
                select(tokens.tokens.c.scope).where(tokens.tokens.c.token_hash == tokens.digest(token))
            ).scalar_one_or_none()
        bearer = tokens.verify(conn, token, scope) if scope and scope.startswith("feed:collection:") else None
        if bearer is None:
            raise ApiError(404, NOT_FOUND)
        try:
            found = get_collection(conn, bearer.user_id, int(scope.rsplit(":", 1)[1]))
        except NotFound:
            raise ApiError(404, NOT_FOUND) from None
        return _feed(request, fmt, conn, found, bearer.username, private=True)


@router.get(
    "/feeds/u/{username}/{slug}.{fmt}",
    summary="A public collection's feed",
    description="A reader's public collection (the page `/u/{username}/c/{slug}`): its newest saved "
    "papers, as `rss` (RSS 2.0) or `atom`. A private or missing collection answers 404.",
    response_class=Response,
    responses=RESPONSES,
)
def public_feed(
    request: Request,
    username: Annotated[str, Path(pattern=USERNAME, description="The owner's username.")],
    slug: Annotated[str, Path(pattern=SLUG, description="The collection's address part.")],
    fmt: Format,
) -> Response:
    engine = request.app.state.engine
    with engine.connect() as conn:
        found = public_collection(conn, username, slug)
        if found is None:
            raise ApiError(404, NOT_FOUND)
        return _feed(request, fmt, conn, found, username, private=False)
