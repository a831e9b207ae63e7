"""
One reader's "For you" window, ranked: what the page (`foryou_pages`), the
private feed (`foryou_feeds`) and the JSON API (`foryou_api`) show, computed
in one place so the three never disagree.

    found = foryou.ranked(conn, user_id, foryou.start_of("week"), limit=20, offset=0, gems=False)
    found.onboarding           # True: nothing saved or followed, nothing to rank by
    for card, rec in found.items:
        card.title, rec.score, rec.why()

Ranking is `paperfeed.recommend` on the inputs `recommend.source` reads (the
window's papers and the reader's library, with the search index's vectors).
It needs the `search` extra (numpy) and a built index, so it is imported on
the first call, never when this module loads (a base install serves every
other page), and either missing raises `Unavailable`, whose message says so
in words.  A ranking reaches `DEPTH` papers deep, first page to last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection

from paperfeed.recommend import spans
from paperfeed.search.errors import missing_extra
from paperfeed.web.cards import Card, mark_saved, paper_cards, with_entries

if TYPE_CHECKING:
    from paperfeed.recommend import Recommendation

DEPTH = 500  # ranked papers any page reaches (recommend.ranking's MAX_LIMIT)
Window = Literal["day", "week", "month"]  # spans.WINDOWS, as a parameter's type
WINDOW_WORDS = {"day": "today", "week": "this week", "month": "this month"}
NOT_BUILT = ("The search index is not built yet, so nothing can be ranked for you. "
             "An administrator runs `paperfeed index` to build it.")


class Unavailable(Exception):
    """For you cannot rank now: the `search` extra is missing or the index is not built."""


@dataclass
class Ranked:
    """One page of a reader's ranking."""

    items: list[tuple[Card, Recommendation]] = field(default_factory=list)
    onboarding: bool = False  # the reader has saved and followed nothing
    more: bool = False  # a next page exists (within DEPTH)


def start_of(window: str, now: datetime | None = None) -> datetime:
    """The start of the window "day", "week" or "month", on the hour (so requests share a window)."""
    return spans.since(window, now)


def ranked(conn: Connection, user_id: int, start: datetime, *, limit: int, offset: int = 0,
           gems: bool = False) -> Ranked:
    """The reader's papers first announced since `start`, best first: `limit` from `offset`.

    Saved and dismissed papers never appear; `gems` puts well-fitting papers
    with few upvotes first.  Cards carry their daily list (as the API's other
    lists do) and the reader's own votes and saves.
    """
    try:
        from paperfeed.recommend import source  # numpy: the `search` extra
    except ImportError as exc:
        raise Unavailable(f"For you ranks with the search index, and {missing_extra(exc)}") from None
    try:
        win = source.window(conn, start)
        prof = source.profile(conn, user_id, win)
    except source.IndexNotBuilt:
        raise Unavailable(NOT_BUILT) from None
    if prof.empty:
        return Ranked(onboarding=True)
    offset = max(0, offset)
    limit = max(0, min(limit, DEPTH - offset))
    if limit == 0:
        return Ranked()
    recs = source.rank(conn, win, prof, limit=limit + 1, offset=offset, hidden_gems=gems)
    more = len(recs) > limit and offset + limit < DEPTH
    recs = recs[:limit]
    found = with_entries(conn, paper_cards(conn, [r.arxiv_id for r in recs], user_id))
    mark_saved(conn, found, user_id)  # the page's save buttons: a button, not a link to log in
    by_id = {c.arxiv_id: c for c in found}
    return Ranked(items=[(by_id[r.arxiv_id], r) for r in recs if r.arxiv_id in by_id], more=more)
