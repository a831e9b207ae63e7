"""
The category filter of the daily lists (day, week, month) and trending (issue
#15): `?category=cs.CL`, repeatable or several in the form's one box (`cs.CL
hep`); an archive prefix selects every category under it (`paperfeed.categories`).

A signed-in reader's choice is remembered on their account
(`users.list_categories`, set by the "Remember" form: a POST with CSRF) and
applies to every list opened without `category`; `?category=` (empty) shows
everything for once.  A visitor's filter lives only in the address, never in
a cookie: their pages are cached (`pagecache`), and a filtered page is neither
marked shareable nor cacheable (`category` is no cached parameter).  Values
that are not category names are dropped with a note on the page, never an error.

The JSON API and the feeds take the same repeatable `category` (`CategoryParam`,
declared in the OpenAPI schema with the exact grammar of a name), but answer a
bad value with 400 (`from_api`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine, update

from paperfeed import categories
from paperfeed.models import User
from paperfeed.web import accounts
from paperfeed.web.hf_json import ApiError

router = APIRouter(include_in_schema=False)  # a form, not API
REMEMBER = "/settings/list-categories"
MAX_SUGGESTIONS = 60
users = User.__table__


# An empty value (`?category=`) reads as none given, as the API's other text parameters.
CategoryParam = Annotated[
    list[str],
    Query(
        description=f"Only papers in these categories (repeat it, at most {categories.MAX_FILTER}): "
        "a category such as `cs.CL`, or an archive prefix, which selects every category under it "
        "(`cs`: every `cs.*`; `hep`: `hep-th`, `hep-ph`, `hep-ex`, `hep-lat`; `math`: `math.*` and `math-ph`).",
        json_schema_extra={
            "items": {"type": "string", "maxLength": categories.MAX_CHARS,
                      "pattern": f"^(?:{categories.NAME})?$", "examples": ["cs.CL", "hep"]},
            "maxItems": categories.MAX_FILTER,
        },
    ),
]


def from_api(values: Sequence[str]) -> tuple[str, ...]:
    """The API's or a feed's `category` values as a filter; 400 for a bad one."""
    if len(values) > categories.MAX_FILTER:
        raise ApiError(400, f"category: give it at most {categories.MAX_FILTER} times (got {len(values)})")
    try:
        return categories.parse(values)
    except categories.CategoryError as e:
        raise ApiError(400, f"category: {e}") from None


@dataclass
class Filter:
    """The categories a list page shows, and where they came from."""

    categories: tuple[str, ...] = ()  # empty: every category
    explicit: bool = False  # named in the address (kept in its links)
    saved: tuple[str, ...] = ()  # the signed-in reader's remembered choice
    signed_in: bool = False
    notice: str | None = None  # what was dropped, and why
    known: list[str] = field(default_factory=list)  # suggestions for the form's box

    @property
    def active(self) -> bool:
        return bool(self.categories)

    @property
    def from_account(self) -> bool:
        return self.active and not self.explicit

    @property
    def text(self) -> str:
        return " ".join(self.categories)

    @property
    def query(self) -> str:
        """`category=...` for the page's own links ('' unless the address named one)."""
        return urlencode({"category": self.text}) if self.explicit else ""

    def link(self, url: str) -> str:
        """`url` (which may have a query already) with this filter kept."""
        if not self.query:
            return url
        return url + ("&" if "?" in url else "?") + self.query


def chosen(request: Request, user: User | None) -> Filter:
    """The filter of this request: the address's `category` values, else the reader's saved ones."""
    saved = tuple(user.list_categories or ()) if user is not None else ()
    found = Filter(saved=saved, signed_in=user is not None)
    if "category" not in request.query_params:
        found.categories = saved
        return found
    found.explicit = True
    kept, dropped = valid_names(request.query_params.getlist("category"))
    found.categories = kept
    if dropped:
        shown = ", ".join(f"“{d[:categories.MAX_CHARS]}”" for d in dropped[:3]) + (" …" if len(dropped) > 3 else "")
        found.notice = (
            f"Left out {shown}: a filter names up to {categories.MAX_FILTER} arXiv categories "
            "or archives, such as cs.CL or hep."
        )
    return found


def suggestions(shown: list) -> list[str]:
    """The categories of a list's cards, most frequent first: what the form's box suggests."""
    counts: dict[str, int] = {}
    for card in shown:
        for name in card.categories:
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts, key=lambda c: (-counts[c], c))[:MAX_SUGGESTIONS]


def valid_names(values: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(the filter in a form's or address's values, the names left out of it): at most
    `MAX_FILTER` distinct category names, separated by spaces, commas or repetition."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for value in values[: categories.MAX_FILTER * 4]:
        for name in value.replace(",", " ").split():
            if not categories.valid(name) or (name.lower() not in kept and len(kept) == categories.MAX_FILTER):
                dropped.append(name)
            else:
                kept.setdefault(name.lower(), name)
    return tuple(kept.values()), dropped


def _without_category(target: str) -> str:
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "category"]
    return parts.path + (f"?{urlencode(query)}" if query else "")


@router.post(REMEMBER)
def remember(
    request: Request,
    category: str = Form("", max_length=1000),
    csrf_token: str = Form(""),
    next: str = Form("/", max_length=2000),
) -> Response:
    """Keep (or, empty, forget) the reader's category filter; back to the list without
    `category` in its address, so the remembered filter is what it shows."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, next)
    names, _ = valid_names([category])  # the form only ever sends a filter the page showed
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user.id).values(list_categories=list(names) or None))
    return RedirectResponse(_without_category(accounts.safe_next(next)), status_code=303)
