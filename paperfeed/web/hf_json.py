"""
Papers and errors in Hugging Face's JSON shapes, so `huggingface_hub`'s
`PaperInfo` reads ours and its `hf_raise_for_status` reads our errors.

The shapes, matching what `huggingface_hub/hf_api.py` parses:

- a *paper* (`GET /api/papers/{id}`): `id`, `title`, `summary`, `authors` as
  `[{"_id", "name", "hidden"}]`, `publishedAt` (the arXiv date), `upvotes`, and,
  for a paper on a daily list, `submittedOnDailyAt` (its entry's own time) and
  `submittedOnDailyBy` (a Hub-style user: `user` is the username, `fullname`);
  `githubRepo`, `projectPage`, `githubStars`, `ai_summary`, `ai_keywords` when
  known (imported from Hugging Face, or code and project links found in the
  paper's comments and abstract); `numComments`, the visible comments on its
  page (`paper_info` reads the body's top level, so its comment count is there);
- a *list item* (`/api/daily_papers`, `/api/papers/search`, `/api/papers`):
  `{"paper": {...}, "title", "summary", "publishedAt", "numComments",
  "submittedBy", ...}` where the item's own `publishedAt` is when the paper
  joined the daily list (`PaperInfo` reads it as `submitted_at`).  `PaperInfo`
  reads only the keys it knows inside `paper` and keeps the item's other keys as
  attributes, so everything it reads from the item's top level (`upvotes`, `numComments`,
  `githubRepo`, `projectPage`, `githubStars`, `ai_summary`, `ai_keywords`) and
  our own fields (`categories`, `primaryCategory`, `arxivUrl`, `keyTerms`: the
  key terms paperfeed computed, kept apart from Hugging Face's `ai_keywords`)
  are repeated there.  For a paper with no publication date, the item's `publishedAt` would
  be read as one, so the list time goes under `submittedOnDailyAt` instead;
- the paper page as Markdown (`GET /papers/{id}.md`, `read_paper`);
- an *error*: `{"error": "..."}` (which `hf_raise_for_status` puts in its
  exception message), 404 for an unknown paper and 400 for a bad parameter.
  `HFRoute` answers that way for the API's and the feeds' routes, including
  the bad parameters FastAPI's own validation would have answered with 422.

Times are written as `2026-10-03T00:00:00.000Z`, the one format
`huggingface_hub.utils.parse_datetime` reads.  A field paperfeed has no data
for (`thumbnail`, `mediaUrls`, avatars) is left out, not made up.  Fields we add beyond Hugging
Face's (`categories`, `arxivUrl`, ...) use names `PaperInfo` does not reserve: it
stores unknown keys as attributes, so a key like `comments` would clobber its
comment count.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, get_origin

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from paperfeed.web.cards import Card, submitted_at
from paperfeed.web.periods import PeriodError
from paperfeed.web.security import FriendlyError, RateLimited


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def object_id(*parts: str) -> str:
    """A stable 24-hex id in the place Hugging Face puts MongoDB ObjectIds."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:24]


def user(name: str) -> dict[str, Any]:
    return {
        "_id": object_id("user", name),
        "user": name,
        "fullname": name,
        "type": "user",
    }


def hub_fields(card: Card) -> dict[str, Any]:
    """`githubRepo`, `projectPage`, `githubStars`, `ai_summary`, `ai_keywords`: those known."""
    links = card.paper_links()
    out: dict[str, Any] = {}
    if links.code:
        out["githubRepo"] = links.code
    if links.stars is not None:
        out["githubStars"] = links.stars
    if links.project:
        out["projectPage"] = links.project
    if card.ai_summary:
        out["ai_summary"] = card.ai_summary
    if card.ai_keywords:
        out["ai_keywords"] = list(card.ai_keywords)
    return out


def paper(card: Card) -> dict[str, Any]:
    """The paper object: the body of `GET /api/papers/{id}` and the `paper` of list items."""
    out: dict[str, Any] = {
        "id": card.arxiv_id,
        "authors": [
            {"_id": object_id(card.arxiv_id, str(i), name), "name": name, "hidden": False}
            for i, name in enumerate(card.authors)
        ],
        "publishedAt": iso(card.published),
        "title": card.title,
        "summary": card.abstract,
        "upvotes": card.upvotes,
        "numComments": card.num_comments,
    }
    if card.day is not None:
        out["submittedOnDailyAt"] = iso(submitted_at(card))
        if card.submitter:
            out["submittedOnDailyBy"] = user(card.submitter)
    out.update(hub_fields(card))
    out.update(_ours(card))
    return out


def _ours(card: Card) -> dict[str, Any]:
    out: dict[str, Any] = {
        "arxivUrl": f"https://arxiv.org/abs/{card.arxiv_id}",
        "primaryCategory": card.primary_category,
        "categories": list(card.categories),
    }
    if card.key_terms:  # ours, beside (never instead of) Hugging Face's ai_keywords
        out["keyTerms"] = list(card.key_terms)
    return out


def list_item(card: Card) -> dict[str, Any]:
    """One element of `/api/daily_papers`, `/api/papers/search` and `/api/papers`."""
    item: dict[str, Any] = {"paper": paper(card)}
    if card.day is not None:
        # PaperInfo falls back on the item's publishedAt for a paper without one of its own
        item["publishedAt" if card.published else "submittedOnDailyAt"] = iso(submitted_at(card))
    item.update(
        {"title": card.title, "summary": card.abstract, "upvotes": card.upvotes,
         "numComments": card.num_comments, "isAuthorParticipating": False}
    )
    if card.submitter:
        item["submittedBy"] = user(card.submitter)
    item.update(hub_fields(card))
    item.update(_ours(card))
    return item


def markdown(card: Card, page_url: str) -> str:
    """The paper page as Markdown: title, authors, dates, links, abstract."""
    lines = [f"# {card.title}", ""]
    if card.authors:
        lines += [f"**Authors:** {', '.join(card.authors)}", ""]
    lines.append(f"- arXiv: [{card.arxiv_id}](https://arxiv.org/abs/{card.arxiv_id})")
    if card.published:
        lines.append(f"- Published: {card.published.date().isoformat()}")
    if card.day:
        by = f" by {card.submitter}" if card.submitter else ""
        lines.append(f"- Daily papers: {card.day.isoformat()}{by}")
    lines.append(f"- Upvotes: {card.upvotes}")
    links = card.paper_links()
    if links.code:
        lines.append(f"- Code: {links.code}")
    if links.project:
        lines.append(f"- Project page: {links.project}")
    for artifact in links.artifacts:
        lines.append(f"- {artifact.label}: [{artifact.name}]({artifact.url})")
    if card.categories:
        lines.append(f"- Categories: {', '.join(card.categories)}")
    if card.key_terms:
        lines.append(f"- Key terms: {', '.join(card.key_terms)}")
    lines += [f"- Page: {page_url}", "", "## Abstract", "", card.abstract.strip(), ""]
    return "\n".join(lines)


# --- errors -------------------------------------------------------------------------


class ApiError(Exception):
    """Answered as `{"error": message}` with `status` by an `HFRoute`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


_HF_MARK = "x-paperfeed-hf-route"  # on the route's operation until `without_validation_errors`


def _query_names(dependant, repeatable: bool = False) -> set[str]:
    """The route's query parameters (with `repeatable`: only those declared as lists)."""
    names = {field.alias for field in dependant.query_params
             if not repeatable or get_origin(field.field_info.annotation) in (list, tuple, set)}
    for sub in dependant.dependencies:
        names |= _query_names(sub, repeatable)
    return names


class HFRoute(APIRoute):
    """Answers bad parameters with 400 `{"error": ...}`, as Hugging Face does, not 422.

    Each query parameter is one value unless declared as a list (`category`): a
    repeated one (`?limit=5&limit=9`, of which FastAPI would read the last) is
    refused, as is a query parameter that
    only the schema names (an object parameter exploded into its properties,
    such as the daily papers' `period`), so what the schema says is the
    request that is read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.openapi_extra = {**(self.openapi_extra or {}), _HF_MARK: True}
        self.query_names = _query_names(self.dependant)
        self.repeatable = _query_names(self.dependant, repeatable=True)  # `?category=a&category=b`
        self.schema_objects = {
            p["name"]: sorted(p.get("schema", {}).get("properties", {}))
            for p in self.openapi_extra.get("parameters", [])
            if p.get("in") == "query" and p["name"] not in self.query_names
        }

    def query_error(self, request: Request) -> str | None:
        for name in dict.fromkeys(request.query_params.keys()):
            if name in self.schema_objects:
                return f"{name}: give {' or '.join(self.schema_objects[name])} as parameters of their own"
            if name in self.query_names and name not in self.repeatable and len(request.query_params.getlist(name)) > 1:
                return f"{name}: give it once"
        return None

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if message := self.query_error(request):
                return error_response(400, message)
            try:
                return await handler(request)
            except RequestValidationError as e:
                return error_response(400, validation_message(e))
            except ApiError as e:
                return error_response(e.status, e.message)
            except PeriodError as e:  # a bad date, week or month parameter
                return error_response(400, e.api_message)
            except FriendlyError as e:  # e.g. a rate limit (429) or search unavailable (503)
                response = error_response(e.status, e.message)
                if isinstance(e, RateLimited):
                    response.headers["Retry-After"] = str(e.retry_after)
                return response

        return route


def validation_message(e: RequestValidationError) -> str:
    parts = []
    for err in e.errors():
        where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


# Models for the OpenAPI schema (`/docs`).  Responses are built by the functions
# above and checked against these in the tests, not serialised through them.
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class HFUser(_Open):
    id: str = Field(alias="_id")
    user: str = Field(description="Username.")
    fullname: str
    type: str = "user"


class HFAuthor(_Open):
    id: str = Field(alias="_id")
    name: str
    hidden: bool = False


class HFPaper(_Open):
    id: str = Field(description="arXiv id without version, e.g. `2406.09415` or `hep-th/9901001`.")
    authors: list[HFAuthor]
    publishedAt: str | None = Field(description="First arXiv version's date.")
    title: str | None
    summary: str = Field(description="The abstract.")
    upvotes: int = Field(description="Imported upvotes plus votes on this site.")
    numComments: int = Field(0, description="Visible comments on the paper's page (not hidden, not deleted).")
    submittedOnDailyAt: str | None = Field(None, description="When it joined a daily list.")
    submittedOnDailyBy: HFUser | None = None
    githubRepo: str | None = Field(None, description="Code: Hugging Face's, else a repository the paper's text links to.")
    projectPage: str | None = Field(None, description="Project page: Hugging Face's, else one the paper's text links to.")
    githubStars: int | None = Field(None, description="Stars of `githubRepo`, when imported from Hugging Face.")
    ai_summary: str | None = Field(None, description="Hugging Face's AI summary, when imported.")
    ai_keywords: list[str] | None = Field(None, description="Hugging Face's AI keywords, when imported.")
    arxivUrl: str
    primaryCategory: str | None = None
    categories: list[str] = []
    keyTerms: list[str] | None = Field(None, description="Key terms paperfeed computed from the title and abstract.")


class HFListItem(_Open):
    """A list item repeats the fields `PaperInfo` reads only from here, and ours."""

    paper: HFPaper
    publishedAt: str | None = Field(None, description="When it joined the daily list (for a paper with a publication date).")
    submittedOnDailyAt: str | None = Field(None, description="When it joined the daily list (for a paper without one).")
    title: str | None
    summary: str
    upvotes: int
    numComments: int = Field(0, description="Visible comments on the paper's page; `PaperInfo.comments` reads it here.")
    submittedBy: HFUser | None = None
    githubRepo: str | None = None
    projectPage: str | None = None
    githubStars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    arxivUrl: str
    primaryCategory: str | None = None
    categories: list[str] = []
    keyTerms: list[str] | None = None


class HFError(BaseModel):
    error: str


# What each error status means; every one is answered as `{"error": message}` in JSON.
ERROR_MEANINGS = {
    400: "A bad parameter: `{\"error\": message}` (where FastAPI would answer 422).",
    404: "No such paper: `{\"error\": \"Paper not found\"}`.",
    403: "Not allowed for this account (a rule that curators and admins are not bound by).",
    413: "The request body is larger than the site accepts.",
    429: "Too many requests from this address: wait `Retry-After` seconds.",
    409: "It is there already.",
    502: "arXiv, which this request needed, could not be reached.",
    503: "Busy or unavailable for now (the search index not built, search not installed): wait `Retry-After` seconds when it is given.",
    504: "arXiv, which this request needed, did not answer in time.",
}
_ERROR_SCHEMA = HFError.model_json_schema()
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
NO_NUL = r"^[^\x00]*$"  # text parameters: PostgreSQL cannot store or compare a NUL


def error_responses(*statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, as `HFRoute` answers them.

    Given as `content`, not as a `model`: FastAPI puts a model under the route's
    own media type, which would document a Markdown or feed route's errors as
    Markdown or XML."""
    out: dict[int, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {
            "description": ERROR_MEANINGS[status],
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
        if status in (429, 503):
            out[status]["headers"] = _RETRY_AFTER
    return out


# Every API and feed route: a bad parameter, a body over the size limit.
ERRORS = error_responses(400, 413)


def without_validation_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` without the 422 FastAPI documents for every route with parameters,
    where the route is an `HFRoute`: it answers bad parameters with 400, never 422."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.pop(_HF_MARK, False):
                operation["responses"].pop("422", None)
    if "HTTPValidationError" not in repr(schema["paths"]):  # no other route answers 422
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
    return schema


def install_openapi(app) -> None:
    """Serve `app`'s schema without the 422s its `HFRoute`s never send."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = without_validation_errors(generate())
        return app.openapi_schema

    app.openapi = openapi
