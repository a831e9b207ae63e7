"""
The reader's library as a JSON API (issue #13): saved papers, collections and
follows, each listed, added and removed, under `/api/library/…`.

Reached with a personal access token only (`Authorization: Bearer pf_…`, made
on `/settings/tokens`): the session cookie opens nothing here, so no request
can be forged from another site and no CSRF token is needed.  A missing,
unknown, revoked or expired token, or one of a disabled account, answers 401
with `WWW-Authenticate: Bearer`.  Another reader's collection does not exist
for you: 404, never 403.  Errors are `{"error": message}` like the rest of the
API: 400 for a bad parameter or body (where FastAPI would say 422), 404, 413
for a note, name or list over its limit, 409 for a collection name you already use.
`"public": 0` is not a boolean (400), as the schema says.

`reader` is the dependency other token-protected routes use (the paper-page
issue's `POST /api/papers/index`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from paperfeed.library import collection as coll
from paperfeed.library import follows, listing, saved, tokens
from paperfeed.library.errors import Conflict, LibraryError, NotFound, TooLarge
from paperfeed.web import catalog
from paperfeed.web.hf_json import HFError, HFRoute, error_response, error_responses

MAX_ID = 2**31 - 1  # ids are 32-bit integer columns on PostgreSQL
ARXIV_ID = r"^[^\x00]*$"
CATEGORY = r"^[a-z-]+(\.[A-Za-z-]+)?$"  # as library.listing and library.follows check them
NOT_BLANK = r"^[^\x00]*[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\x00][^\x00]*$"

bearer = HTTPBearer(
    auto_error=False,  # we answer 401 ourselves, with our error shape and WWW-Authenticate
    scheme_name="AccessToken",
    description="A personal access token (`pf_…`) made on `/settings/tokens`.",
)


class Unauthorized(Exception):
    """No live API token: answered 401 with `WWW-Authenticate: Bearer`."""

    def __init__(self, given: bool) -> None:
        super().__init__("a valid access token is required" if not given else "this access token is not valid")
        self.given = given


def _challenge(given: bool) -> str:
    return 'Bearer realm="paperfeed", error="invalid_token"' if given else 'Bearer realm="paperfeed"'


class LibraryRoute(HFRoute):
    """An `HFRoute` that also answers a missing token (401) and the library's errors."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Unauthorized as e:
                response = error_response(401, str(e))
                response.headers["WWW-Authenticate"] = _challenge(e.given)
                return response
            except NotFound as e:
                return error_response(404, str(e))
            except Conflict as e:
                return error_response(409, str(e))
            except TooLarge as e:
                return error_response(413, str(e))
            except LibraryError as e:
                return error_response(400, str(e))

        return route


def reader(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> tokens.Bearer:
    """The reader a live `api` token speaks for; `Unauthorized` otherwise."""
    token = credentials.credentials if credentials is not None else None
    with request.app.state.engine.begin() as conn:  # begin: verify notes when the token was last used
        found = tokens.verify(conn, token, "api")
    if found is None:
        raise Unauthorized(given=token is not None)
    return found


Reader = Annotated[tokens.Bearer, Depends(reader)]

_UNAUTHORIZED = {
    401: {
        "description": "No valid access token: missing, unknown, revoked, expired, or of a disabled account.",
        "content": {"application/json": {"schema": HFError.model_json_schema()}},
        "headers": {"WWW-Authenticate": {"description": "`Bearer realm=\"paperfeed\"`", "schema": {"type": "string"}}},
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {**error_responses(400, 413), **_UNAUTHORIZED}
WITH_404: dict[int | str, dict[str, Any]] = {**ERRORS, **error_responses(404)}
WITH_404[404] = {**WITH_404[404], "description": "No such paper, collection or follow of yours."}
WITH_NO_AUTHOR: dict[int | str, dict[str, Any]] = {**ERRORS, **error_responses(404)}
WITH_NO_AUTHOR[404] = {**WITH_NO_AUTHOR[404], "description": "An author's name without a letter or digit: no author."}

CONFLICT: dict[int | str, dict[str, Any]] = error_responses(409)
CONFLICT[409] = {**CONFLICT[409], "description": "You already have a collection of that name."}

router = APIRouter(route_class=LibraryRoute, tags=["Library"], prefix="/api/library")


# --- shapes ----------------------------------------------------------------------------


class SavedPaperOut(BaseModel):
    arxiv_id: str
    title: str | None
    authors: list[str]
    primary_category: str | None
    categories: list[str]
    published: datetime | None
    note: str = Field(description="Your private note (plain text).")
    saved_at: datetime
    collections: list[int] = Field(description="Ids of your collections holding it.")


class SavedPageOut(BaseModel):
    total: int = Field(description="Saved papers matching the filters, across pages.")
    limit: int
    offset: int
    items: list[SavedPaperOut]


class SaveIn(BaseModel):
    arxiv_id: str = Field(min_length=1, max_length=200, pattern=ARXIV_ID, description="e.g. `2312.00752`.")
    collections: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default=[], max_length=100, description="Collection ids to put it in; none: the Reading list."
    )
    note: str | None = Field(None, max_length=saved.MAX_NOTE, pattern=ARXIV_ID, description="Replaces the note.")


class CollectionOut(BaseModel):
    id: int
    name: str
    slug: str
    description: str
    is_default: bool
    is_public: bool
    created_at: datetime
    updated_at: datetime
    papers: int
    public_url: str | None = Field(description="The public page's path, for a public collection.")


class CollectionIn(BaseModel):
    name: str = Field(min_length=1, max_length=coll.MAX_NAME, pattern=NOT_BLANK)
    description: str = Field("", max_length=coll.MAX_DESCRIPTION, pattern=ARXIV_ID)
    public: StrictBool = False  # `"public": 0` is not a boolean


class CollectionPageOut(BaseModel):
    collection: CollectionOut
    papers: SavedPageOut


class FollowOut(BaseModel):
    kind: Literal["author", "category"]
    key: str = Field(description="An author's folded full name (`albert gu`) or a category (`cs.CL`).")
    label: str
    created_at: datetime


class AuthorFollowIn(BaseModel):
    model_config = ConfigDict(strict=True)
    kind: Literal["author"]
    value: str = Field(min_length=1, max_length=300, pattern=NOT_BLANK,
                       description="An author's name (`Albert Gu`), as on a paper.")


class CategoryFollowIn(BaseModel):
    model_config = ConfigDict(strict=True)
    kind: Literal["category"]
    value: str = Field(min_length=1, max_length=64, pattern=CATEGORY,
                       description="A category (`cs.CL`) or a whole archive (`cs`, `hep-th`).")


# one schema per kind, so the schema says what a category looks like (a malformed one is a 400)
FollowIn = Annotated[AuthorFollowIn | CategoryFollowIn, Field(discriminator="kind")]


def _collection(found: coll.CollectionInfo, owner: str) -> CollectionOut:
    url = f"/u/{owner}/c/{found.slug}" if found.is_public else None
    return CollectionOut(**{k: getattr(found, k) for k in (
        "id", "name", "slug", "description", "is_default", "is_public", "created_at", "updated_at", "papers")},
        public_url=url)


def _page(page: listing.SavedPage) -> SavedPageOut:
    return SavedPageOut(total=page.total, limit=page.limit, offset=page.offset,
                        items=[SavedPaperOut(**vars(item)) for item in page.items])


def _saved(conn, user_id: int, arxiv_id: str) -> SavedPaperOut:
    canon = saved.paper_id(conn, arxiv_id)
    found = saved.get_saved(conn, user_id, canon)
    if found is None:
        raise NotFound("that paper is not in your library")
    paper = catalog.get_paper(conn, canon)
    return SavedPaperOut(
        arxiv_id=canon, title=paper.title, authors=list(paper.authors or []),
        primary_category=paper.primary_category, categories=list(paper.categories or []),
        published=paper.published, note=found.note, saved_at=found.saved_at, collections=found.collections,
    )


def _engine(request: Request):
    return request.app.state.engine


CollectionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A collection id.")]
ArxivId = Annotated[str, Path(max_length=200, pattern=ARXIV_ID, description="An arXiv id, e.g. `2312.00752`.")]
Limit = Annotated[int, Query(ge=1, le=listing.MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Sort = Annotated[Literal["saved", "published", "title"], Query(description="Newest saved, newest published, or A-Z.")]


# --- saved papers --------------------------------------------------------------------


@router.get("/papers", summary="List your saved papers", response_model=SavedPageOut, responses=WITH_404)
def list_papers(
    request: Request,
    who: Reader,
    collection: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this collection.")] = None,
    category: Annotated[str | None, Query(max_length=64, pattern=CATEGORY,
                                          description="Only papers in this category or archive (`cs`).")] = None,
    sort: Sort = "saved",
    limit: Limit = 50,
    offset: Offset = 0,
) -> SavedPageOut:
    with _engine(request).connect() as conn:
        page = listing.list_saved(conn, who.user_id, collection=collection, category=category,
                                  sort=sort, limit=limit, offset=offset)
    return _page(page)


@router.post("/papers", summary="Save a paper", response_model=SavedPaperOut, responses=WITH_404,
             description="Saves a stored paper (into the Reading list unless `collections` names others); "
             "saving again adds it to those collections and, with `note`, replaces the note.")
def save_paper(request: Request, who: Reader, body: Annotated[SaveIn, Body()]) -> SavedPaperOut:
    with _engine(request).begin() as conn:
        found = saved.save(conn, who.user_id, body.arxiv_id, body.collections or None, note=body.note)
        return _saved(conn, who.user_id, found.arxiv_id)


@router.get("/papers/{arxiv_id:path}", summary="Get a saved paper", response_model=SavedPaperOut, responses=WITH_404)
def get_paper(request: Request, who: Reader, arxiv_id: ArxivId) -> SavedPaperOut:
    with _engine(request).connect() as conn:
        return _saved(conn, who.user_id, arxiv_id)


@router.delete("/papers/{arxiv_id:path}", summary="Remove a paper from your library", status_code=204,
               response_class=Response, responses={204: {"description": "Removed."}, **WITH_404})
def remove_paper(request: Request, who: Reader, arxiv_id: ArxivId) -> Response:
    with _engine(request).begin() as conn:
        if not saved.unsave(conn, who.user_id, arxiv_id):
            raise NotFound("that paper is not in your library")
    return Response(status_code=204)


# --- collections ---------------------------------------------------------------------


@router.get("/collections", summary="List your collections", response_model=list[CollectionOut], responses=ERRORS)
def list_collections(request: Request, who: Reader) -> list[CollectionOut]:
    with _engine(request).begin() as conn:
        coll.default_collection(conn, who.user_id)  # the Reading list is always there
        return [_collection(c, who.username) for c in coll.list_collections(conn, who.user_id)]


@router.post("/collections", summary="Create a collection", status_code=201, response_model=CollectionOut,
             responses={201: {"description": "Created."}, **ERRORS, **CONFLICT})
def create_collection(request: Request, who: Reader, body: Annotated[CollectionIn, Body()]) -> CollectionOut:
    with _engine(request).begin() as conn:
        found = coll.create_collection(conn, who.user_id, body.name, body.description, public=body.public)
    return _collection(found, who.username)


@router.get("/collections/{collection_id}", summary="Get a collection and its papers",
            response_model=CollectionPageOut, responses=WITH_404)
def get_collection(
    request: Request, who: Reader, collection_id: CollectionId,
    sort: Sort = "saved", limit: Limit = 50, offset: Offset = 0,
) -> CollectionPageOut:
    with _engine(request).connect() as conn:
        found = coll.get_collection(conn, who.user_id, collection_id)
        counted = next(c for c in coll.list_collections(conn, who.user_id) if c.id == found.id)
        page = listing.list_saved(conn, who.user_id, collection=found.id, sort=sort, limit=limit, offset=offset)
    return CollectionPageOut(collection=_collection(counted, who.username), papers=_page(page))


@router.put("/collections/{collection_id}/papers/{arxiv_id:path}", summary="Add a paper to a collection",
            response_model=SavedPaperOut, responses=WITH_404,
            description="Saves the paper first if need be; adding it again changes nothing.")
def add_to_collection(request: Request, who: Reader, collection_id: CollectionId, arxiv_id: ArxivId) -> SavedPaperOut:
    with _engine(request).begin() as conn:
        found = saved.add_to_collection(conn, who.user_id, arxiv_id, collection_id)
        return _saved(conn, who.user_id, found.arxiv_id)


@router.delete("/collections/{collection_id}/papers/{arxiv_id:path}", summary="Take a paper out of a collection",
               status_code=204, response_class=Response,
               responses={204: {"description": "Taken out; it stays in your library."}, **WITH_404})
def remove_from_collection(request: Request, who: Reader, collection_id: CollectionId, arxiv_id: ArxivId) -> Response:
    with _engine(request).begin() as conn:
        saved.remove_from_collection(conn, who.user_id, arxiv_id, collection_id)
    return Response(status_code=204)


# --- follows -------------------------------------------------------------------------


def _follow(f: follows.FollowInfo) -> FollowOut:
    return FollowOut(kind=f.kind, key=f.key, label=f.label, created_at=f.created_at)


@router.get("/follows", summary="List what you follow", response_model=list[FollowOut], responses=ERRORS)
def list_follows(request: Request, who: Reader) -> list[FollowOut]:
    with _engine(request).connect() as conn:
        return [_follow(f) for f in follows.list_follows(conn, who.user_id)]


@router.post("/follows", summary="Follow an author or a category", response_model=FollowOut, responses=WITH_NO_AUTHOR,
             description="Following again changes nothing.")
def add_follow(request: Request, who: Reader, body: Annotated[FollowIn, Body()]) -> FollowOut:
    with _engine(request).begin() as conn:
        return _follow(follows.follow(conn, who.user_id, body.kind, body.value))


@router.delete("/follows/{kind}/{value}", summary="Stop following an author or a category", status_code=204,
               response_class=Response, responses={204: {"description": "Unfollowed."}, **WITH_404})
def remove_follow(
    request: Request,
    who: Reader,
    kind: Literal["author", "category"],
    value: Annotated[str, Path(max_length=300, pattern=NOT_BLANK, description="The name, key or category.")],
) -> Response:
    with _engine(request).begin() as conn:
        try:
            done = follows.unfollow(conn, who.user_id, kind, value)
        except LibraryError:  # a malformed category or a name without letters: not something you follow
            done = False
        if not done:
            raise NotFound(f"you do not follow that {kind}")
    return Response(status_code=204)
