"""
The moderation queue for curators (`/moderation`): every comment with open
reports, most reported first, with the reasons given and a button to hide the
comment or dismiss its reports (both post to `/comments/{id}/moderate`).
Visitors are sent to log in; readers who are not curators get 403.  The queue
pages through its first `cards.MAX_DEPTH` entries.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed.discussion import moderation
from paperfeed.web import accounts, cards
from paperfeed.web.discussion_pages import DONE, Done
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # a page, not API

PAGE_SIZE = 50
MAX_PAGE = cards.MAX_DEPTH // PAGE_SIZE


@router.get("/moderation")
def moderation_page(request: Request, p: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1, done: Done = "") -> Response:
    user = accounts.require_user(request, "/moderation")
    if not accounts.has_role(user, "curator"):
        raise FriendlyError(403, "Only curators can see the moderation queue.")
    with request.app.state.engine.connect() as conn:
        total = moderation.queue_size(conn)
        pages = min(max(math.ceil(total / PAGE_SIZE), 1), MAX_PAGE)
        if p > pages:
            raise FriendlyError(404, "The queue does not have that many pages.")
        reported = moderation.queue(conn, (p - 1) * PAGE_SIZE, PAGE_SIZE)
    context = {
        "reported": reported, "total": total, "page": p, "pages": pages, "done": DONE.get(done),
        "back": "/moderation" + (f"?p={p}" if p > 1 else ""), "nav": "moderation",
    }
    return render(request, "moderation.html", context)
