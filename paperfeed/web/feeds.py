"""
RSS 2.0 and Atom feeds, made with feedgen, so a feed reader can follow the daily
list, what is trending (both filtered by category if asked), or any search (a
topic, an author, a category).

Every feed comes as `.rss` and `.atom`.  An entry is one paper: its title, a link
to its page here (also its id, so readers see each paper once), its authors
(`dc:creator` in RSS, which has no name-only author), the abstract (Atom:
plain text; RSS: escaped once more, as readers take `<description>` as HTML),
its categories, and dates: when it joined the daily list, else when it
was published.  Responses carry an ETag (a hash of the body) and answer a
matching `If-None-Match` with 304, so polling readers cost little.  Every
link, the feed's own included, starts with `siteurl.site_url()`, never with
the Host the request named (a cached feed must not carry a forged host).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, time
from email.utils import format_datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperfeed import siteurl
from paperfeed.web import cards, category_filter, entries, periods, search_bridge
from paperfeed.web.cards import Card, DailyQuery, submitted_at
from paperfeed.web.hf_json import ERRORS, NO_NUL, ApiError, HFRoute, error_responses

Format = Literal["rss", "atom"]
MEDIA_TYPES = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}
DAILY_MAX = 200
TRENDING_COUNT = 30

# Characters XML 1.0 forbids; lxml refuses to serialise them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

router = APIRouter(route_class=HFRoute, tags=["Feeds"])


def xml_text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def entry_time(card: Card) -> datetime | None:
    """When the paper joined its daily list, else when it was published."""
    return submitted_at(card) or card.published


def build(
    fmt: Format,
    rows: list[Card],
    *,
    title: str,
    description: str,
    base: str,
    html_url: str,
    self_url: str,
    dated: Callable[[Card], datetime | None] = entry_time,
    html_body: Callable[[Card], str] | None = None,
) -> tuple[bytes, datetime]:
    """The feed document and its last-modified time.

    `html_body`, when given, is an entry's text as HTML (its pieces escaped by
    the caller), in place of the plain abstract: RSS's description, Atom's
    summary of type html."""
    fg = FeedGenerator()
    fg.load_extension("dc")
    fg.id(self_url)
    fg.title(title)
    fg.description(description)
    fg.link(href=self_url, rel="self")
    fg.link(href=html_url, rel="alternate")  # after "self": RSS's <link> is the last one set
    fg.language("en")
    fg.generator("paperfeed")
    newest = None
    for card in rows:
        url = siteurl.paper_url(base, card.arxiv_id)
        fe = fg.add_entry(order="append")
        fe.id(url)
        fe.guid(url, permalink=True)
        fe.title(xml_text(card.title) or card.arxiv_id)
        fe.link(href=url, rel="alternate")
        if html_body is not None:
            body = xml_text(html_body(card))
            if fmt == "rss":
                fe.description(body)
            else:
                fe.summary(body, type="html")
        elif fmt == "rss":  # readers take <description> as HTML: escape the text once more
            fe.description(html.escape(xml_text(card.abstract), quote=False))
        else:
            fe.summary(xml_text(card.abstract), type="text")
        for name in card.authors:
            if fmt == "rss":
                fe.dc.dc_creator(xml_text(name))
            else:
                fe.author(name=xml_text(name))
        for category in card.categories:
            fe.category(term=category)
        published = dated(card) or datetime(1970, 1, 1, tzinfo=UTC)
        fe.published(published)
        fe.updated(published)
        newest = max(newest or published, published)
    newest = newest or datetime.now(UTC).replace(microsecond=0)
    fg.updated(newest)
    fg.lastBuildDate(newest)
    body = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    return body, newest


def self_url(base: str, request: Request) -> str:
    """The feed's own address under `base` (the request's path and query; never its Host)."""
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


def respond(request: Request, fmt: Format, body: bytes, modified: datetime) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified.astimezone(UTC), usegmt=True),
        "Cache-Control": "public, max-age=300",
    }
    wanted = request.headers.get("if-none-match", "")
    if etag in [tag.strip() for tag in wanted.split(",")] or wanted.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _in(wanted: tuple[str, ...]) -> str:
    return f" in {', '.join(wanted)}" if wanted else ""


def _filtered(url: str, wanted: tuple[str, ...]) -> str:
    """A list page's address with the feed's category filter."""
    return url + (f"?{urlencode({'category': ' '.join(wanted)})}" if wanted else "")


_FMT_DOC = "`rss` (RSS 2.0) or `atom`"
_FEED = {"schema": {"type": "string"}}
FEED_RESPONSES = {
    200: {
        "description": "The feed: RSS 2.0 for `.rss`, Atom for `.atom`.",
        "content": {"application/rss+xml": _FEED, "application/atom+xml": _FEED},
    },
    304: {"description": "Not modified: `If-None-Match` named the feed's current ETag."},
    **ERRORS,
}
# A query of only spaces is refused (there is nothing to follow).  The spaces are
# spelled out, not `\s`: Python's `str.strip`, ECMA's and Rust's `\s` differ
# (\x1c-\x1f, \ufeff), and the schema, its validator and this code must agree.
_SPACES = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = rf"^[^\x00]*[^{_SPACES}\x00][^\x00]*$"


@router.get(
    "/feeds/daily.{fmt}",
    summary="Daily papers feed",
    description=f"The papers of one day's list (`date`, default the newest), as {_FMT_DOC}; "
    "`category` (repeatable) keeps those in these categories or archives (`cs`, `hep`).",
    response_class=Response,
    responses=FEED_RESPONSES,
)
def daily_feed(
    request: Request,
    fmt: Format,
    date: Annotated[
        str | None,
        Query(
            description=f"YYYY-MM-DD, in the years {periods.FIRST_YEAR} to {periods.LAST_YEAR}; "
            "default the newest list",
            json_schema_extra={"pattern": periods.or_empty(periods.DAY_PATTERN)},  # read by periods
        ),
    ] = None,
    category: category_filter.CategoryParam = (),
) -> Response:
    engine = request.app.state.engine
    wanted = category_filter.from_api(category)
    if date:
        day = periods.parse_day(date)
    else:
        with engine.connect() as conn:
            day = entries.latest_day(conn)
    rows = cards.daily(engine, DailyQuery(start=day, end=day, limit=DAILY_MAX, categories=wanted)) if day else []
    base = siteurl.site_url()
    body, modified = build(
        fmt,
        rows,
        title=(f"Daily papers {day.isoformat()}" if day else "Daily papers") + _in(wanted),
        description="Papers on paperfeed's daily list, most upvoted first.",
        base=base,
        html_url=_filtered(f"{base}/papers/date/{day.isoformat()}" if day else f"{base}/", wanted),
        self_url=self_url(base, request),
    )
    if not rows and day:
        modified = datetime.combine(day, time(), tzinfo=UTC)
    return respond(request, fmt, body, modified)


@router.get(
    "/feeds/trending.{fmt}",
    summary="Trending papers feed",
    description=f"The {TRENDING_COUNT} papers with the most recent upvotes, as on the trending "
    f"page (upvotes of the last `PAPERFEED_TRENDING_DAYS` days, decayed with age), as {_FMT_DOC}; "
    "`category` (repeatable) keeps those in these categories or archives.",
    response_class=Response,
    responses=FEED_RESPONSES,
)
def trending_feed(
    request: Request,
    fmt: Format,
    category: category_filter.CategoryParam = (),
) -> Response:
    wanted = category_filter.from_api(category)
    rows = cards.trending_cards(request.app.state.engine, TRENDING_COUNT, wanted)
    base = siteurl.site_url()
    body, modified = build(
        fmt,
        rows,
        title="Trending papers" + _in(wanted),
        description="Papers trending on paperfeed: the most upvoted lately.",
        base=base,
        html_url=_filtered(f"{base}/trending", wanted),
        self_url=self_url(base, request),
    )
    return respond(request, fmt, body, modified)


@router.get(
    "/feeds/search.{fmt}",
    summary="Search feed",
    description="The best matches of a search (`q`, with the search box's syntax, e.g. "
    f"`author:` and `cat:`; `category` narrows further), as {_FMT_DOC}: follow a topic.",
    response_class=Response,
    responses={**FEED_RESPONSES, **error_responses(429)},
)
def search_feed(
    request: Request,
    fmt: Format,
    q: Annotated[str, Query(min_length=1, max_length=2000, pattern=NOT_BLANK, description="Search query")],
    category: Annotated[
        str | None, Query(max_length=64, pattern=NO_NUL, description="e.g. cs.LG, or cs")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    if not q.strip():
        raise ApiError(400, "q must not be empty")
    search_bridge.enforce_limit(request)
    rows = search_bridge.search_cards(request.app.state.engine, q, limit, category=category or None)
    base = siteurl.site_url()
    topic = q + (f" in {category}" if category else "")
    body, modified = build(
        fmt,
        rows,
        title=f"paperfeed: {xml_text(topic)}",
        description=f"Papers matching “{xml_text(topic)}” on paperfeed.",
        base=base,
        html_url=f"{base}/papers?" + urlencode({"q": q, "category": category or ""}),
        self_url=self_url(base, request),
        dated=lambda card: card.published,
    )
    return respond(request, fmt, body, modified)
