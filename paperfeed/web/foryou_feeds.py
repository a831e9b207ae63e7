"""
"For you" as a feed (issue #14): `/feeds/foryou/{token}.atom|.rss?window=day|week|month`.

The reader makes the secret address on `/settings/tokens` (a token of scope
`feed:foryou`, `library.tokens.feed_token`) and can regenerate or revoke it
there.  The token is the only credential: a revoked or unknown one, or one of
a disabled account, answers 404, the same as a feed that never existed.  The
entries are the reader's ranking of the window (default a week) as the page
shows it (`web.foryou`), best first, at most `FEED_MAX`; each entry's text is
its why-lines, then the abstract, every piece HTML-escaped, with the saved
papers it is close to linked.  Every link is absolute from
`siteurl.site_url()`.  Answers are `Cache-Control: private, no-cache` and
`Referrer-Policy: no-referrer`, as the collection feeds' are.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from paperfeed import siteurl
from paperfeed.library import tokens
from paperfeed.web import foryou
from paperfeed.web.cards import Card
from paperfeed.web.feeds import FEED_RESPONSES, Format, build, respond, self_url
from paperfeed.web.hf_json import ApiError, HFRoute, error_responses

if TYPE_CHECKING:
    from paperfeed.recommend import Recommendation

router = APIRouter(route_class=HFRoute, tags=["Feeds"])
FEED_MAX = 50
NOT_FOUND = "No such feed."


def why_html(base: str, rec: Recommendation) -> str:
    """A recommendation's why-lines as an HTML list, the saved papers it names linked."""
    lines = rec.why()
    items = []
    if rec.closest:
        named = ", ".join(
            f'<a href="{html.escape(siteurl.paper_url(base, n.arxiv_id))}">“{html.escape(n.title or n.arxiv_id)}”</a>'
            for n in rec.closest
        )
        items.append(f"Close to {named} in your library")
        lines = lines[1:]  # why()'s first line says the same, unlinked
    items += [html.escape(line) for line in lines]
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


@router.get(
    "/feeds/foryou/{token}.{fmt}",
    summary="Your For you feed",
    description="Your “For you” ranking at the secret address made on the settings page "
    "(`/settings/tokens`): the papers first announced in `window`, best first, each with the "
    f"reasons it is there, at most {FEED_MAX}, as `rss` (RSS 2.0) or `atom`. "
    "A revoked or unknown address answers 404; 503 while the search index is not built.",
    response_class=Response,
    responses={**FEED_RESPONSES, **error_responses(404, 503)},
)
def foryou_feed(
    request: Request,
    token: Annotated[str, Path(max_length=200, description="The feed's secret token (`pf_…`).")],
    fmt: Format,
    window: Annotated[foryou.Window, Query(description="Papers first announced in the last day, week or month.")] = "week",
) -> Response:
    engine = request.app.state.engine
    with engine.begin() as conn:  # begin: verify notes when the address was last read
        bearer = tokens.verify(conn, token, "feed:foryou")
    if bearer is None:
        raise ApiError(404, NOT_FOUND)
    try:
        with engine.connect() as conn:
            found = foryou.ranked(conn, bearer.user_id, foryou.start_of(window), limit=FEED_MAX)
    except foryou.Unavailable as e:
        raise ApiError(503, str(e)) from None
    base = siteurl.site_url()
    recs = {card.arxiv_id: rec for card, rec in found.items}

    def body(card: Card) -> str:
        return why_html(base, recs[card.arxiv_id]) + f"<p>{html.escape(card.abstract)}</p>"

    doc, modified = build(
        fmt,
        [card for card, _ in found.items],
        title=f"For you · {bearer.username}",
        description=f"Papers first announced {foryou.WINDOW_WORDS[window]}, ranked for {bearer.username} on paperfeed.",
        base=base,
        html_url=f"{base}/for-you?window={window}",
        self_url=self_url(base, request),
        html_body=body,
    )
    response = respond(request, fmt, doc, modified)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"  # the address is the secret
    return response
