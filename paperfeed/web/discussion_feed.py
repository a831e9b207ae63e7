"""
The Atom feed of a paper's discussion (`/feeds/discussion/{id}.atom`), made
with feedgen: its newest visible comments and replies, newest first (at most
`FEED_SIZE`), each entry linking to the comment's own page, with its author,
times (published, and updated when edited) and its sanitised HTML as content.
Hidden and deleted comments are left out, as they are from the counts.  Every
link starts with `siteurl.site_url()`, never with the request's Host; the
answer carries an ETag and answers a matching `If-None-Match` with 304, as
the other feeds do.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperfeed import ids, siteurl
from paperfeed.discussion import comments as talk
from paperfeed.web import catalog, feeds
from paperfeed.web.api import PaperId
from paperfeed.web.hf_json import ApiError, HFRoute, error_responses

FEED_SIZE = 50

router = APIRouter(route_class=HFRoute, tags=["Feeds"])


def build(paper, found: list[talk.View], base: str, self_url: str) -> tuple[bytes, datetime]:
    """The Atom document for `paper`'s comments `found` (newest first) and its last change."""
    title = feeds.xml_text(paper.title) or paper.arxiv_id
    page = siteurl.paper_url(base, paper.arxiv_id)
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(f"Discussion: {title}")
    fg.subtitle(f"Comments on arXiv:{paper.arxiv_id} on paperfeed.")
    fg.link(href=self_url, rel="self")
    fg.link(href=f"{page}#discussion", rel="alternate")
    fg.language("en")
    fg.generator("paperfeed")
    newest = None
    for comment in found:
        url = f"{base}/comments/{comment.id}"
        author = comment.author or "[deleted account]"
        fe = fg.add_entry(order="append")
        fe.id(url)
        fe.link(href=url, rel="alternate")
        fe.title(f"{'Reply' if comment.parent_id else 'Comment'} by {feeds.xml_text(author)}")
        fe.author(name=feeds.xml_text(author))
        fe.content(feeds.xml_text(comment.html), type="html")
        changed = comment.edited_at or comment.created_at
        fe.published(comment.created_at)
        fe.updated(changed)
        newest = max(newest or changed, changed)
    newest = newest or (paper.published or datetime(1970, 1, 1, tzinfo=UTC))
    fg.updated(newest)
    return fg.atom_str(pretty=True), newest


@router.get(
    "/feeds/discussion/{arxiv_id:path}.atom",
    summary="A paper's discussion feed",
    description=f"The newest {FEED_SIZE} visible comments and replies on a paper's page, newest first, as Atom.",
    response_class=Response,
    responses={
        200: {"description": "The feed (Atom).", "content": {"application/atom+xml": {"schema": {"type": "string"}}}},
        304: feeds.FEED_RESPONSES[304],
        **error_responses(404, 413),
    },
)
def discussion_feed(request: Request, arxiv_id: PaperId) -> Response:
    try:
        canon = ids.canonical(arxiv_id)
    except ids.BadArxivId:
        raise ApiError(404, "Paper not found") from None
    with request.app.state.engine.connect() as conn:
        paper = catalog.get_paper(conn, canon)
        if paper is None:
            raise ApiError(404, "Paper not found")
        found = talk.recent(conn, canon, FEED_SIZE)
    base = siteurl.site_url()
    body, modified = build(paper, found, base, feeds.self_url(base, request))
    return feeds.respond(request, "atom", body, modified)
