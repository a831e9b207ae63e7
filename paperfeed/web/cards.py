"""
Papers as lists show them (a `Card`), and every list of them: the daily list
of a day, an ISO week or a month (pages and the API), what is trending, papers
by id (with the daily list each came from), the newest papers, and the API's
paged daily query (by period or submitter, or every day).

Upvotes are counted as in `votes` (imported + this site's votes) and trending
scores come from `paperfeed.trending`, so the pages, the API and the feeds all
show the same numbers; so are comment counts (`discussion.comments`: visible
comments only).  Hidden entries are left out unless a curator is looking.

Every paged list (these, the search pages, the API) goes `MAX_DEPTH` entries
deep, what a person pages through, so no anonymous request makes the server
rank or load more than that (issue #12): a page past it is empty.

Lists filtered by category (`paperfeed.categories`: `cs` selects every `cs.*`,
`hep` every `hep-*`) are filtered before they are paged; the API's list of the
newest days reads at most `RECENT_SCAN` entries looking for enough matches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, Engine, and_, exists, func, literal, or_, select

from paperfeed import categories as cats
from paperfeed import db, trending
from paperfeed.discussion import comments as discussion
from paperfeed.library.saved import saved_state
from paperfeed.models import DailyEntry, Paper, User, Vote
from paperfeed.web import codelinks
from paperfeed.web import entries as daily_entries
from paperfeed.web import votes as site_votes

papers = Paper.__table__
entries = DailyEntry.__table__
votes = Vote.__table__
users = User.__table__

MAX_DEPTH = 1_000  # entries any paged list reaches, first page to last
RECENT_SCAN = 20 * MAX_DEPTH  # entries a filtered list of the newest days reads at most
Sort = Literal["upvotes", "trending", "newest"]
SORTS: tuple[str, ...] = ("upvotes", "trending", "newest")
CARD_COLUMNS = (
    papers.c.arxiv_id,
    papers.c.title,
    papers.c.authors,
    papers.c.abstract,
    papers.c.published,
    papers.c.primary_category,
    papers.c.categories,
    papers.c.github_repo,
    papers.c.project_page,
    papers.c.github_stars,
    papers.c.ai_summary,
    papers.c.ai_keywords,
    papers.c.links,
    papers.c.key_terms,
)


@dataclass
class Card:
    """One paper as a list shows it."""

    arxiv_id: str
    title: str
    authors: list[str]
    abstract: str
    published: datetime | None
    primary_category: str | None
    categories: list[str] = field(default_factory=list)
    upvotes: int = 0
    voted: bool = False
    submitter: str | None = None
    day: date | None = None
    entry_id: int | None = None
    pinned: bool = False
    hidden: bool = False
    curated: bool = False
    snippet: str | None = None  # search: highlighted abstract, checked by search_bridge.safe_snippet
    title_html: str | None = None  # search: highlighted title, likewise
    score: float | None = None  # trending or search score
    saved: bool | None = None  # in the reader's library; None: nobody signed in (or not looked up)
    entry_created: datetime | None = None  # when its daily entry was made (`submitted_at`)
    github_repo: str | None = None  # Hugging Face's githubRepo, projectPage, ...
    project_page: str | None = None
    github_stars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    links: list[dict] | None = None  # found in comments and abstract (papers.links)
    num_comments: int = 0  # visible comments on its page (`discussion.comments`)
    key_terms: list[str] | None = None  # computed by `paperfeed index` (papers.key_terms)

    def paper_links(self) -> codelinks.PaperLinks:
        """Code, project page and Hugging Face artifacts, as cards and the API show them."""
        return codelinks.of_row(self)


def _card(row, **extra) -> Card:
    return Card(
        arxiv_id=row.arxiv_id,
        title=row.title or row.arxiv_id,
        authors=list(row.authors or []),
        abstract=row.abstract or "",
        published=row.published,
        primary_category=row.primary_category,
        categories=list(row.categories or []),
        github_repo=row.github_repo,
        project_page=row.project_page,
        github_stars=row.github_stars,
        ai_summary=row.ai_summary,
        ai_keywords=list(row.ai_keywords) if row.ai_keywords else None,
        links=row.links,
        key_terms=list(row.key_terms) if row.key_terms else None,
        **extra,
    )


def mark_saved(conn: Connection, cards: Iterable[Card], user_id: int | None) -> None:
    """Set `saved` on a page of cards for the signed-in reader, in one look-up for the page
    (not one per card); for a visitor they stay None and show a "Save" link to log in."""
    cards = list(cards)
    if user_id is None or not cards:
        return
    state = saved_state(conn, user_id, [c.arxiv_id for c in cards])
    for card in cards:
        card.saved = card.arxiv_id in state


def submitted_at(card: Card) -> datetime | None:
    """When the paper joined its daily list: its entry's time (a reader's submission,
    or Hugging Face's `submittedOnDailyAt`), or the start of the list's day when the
    entry was made on another day (a list imported later, with no time of its own)."""
    if card.day is None:
        return None
    start = trending.day_start(card.day)
    made = card.entry_created
    if made is not None and start - timedelta(days=1) <= made < start + timedelta(days=2):
        return made  # within a day either side: the list's day is in the site's time zone
    return start


# --- a period's daily list ---------------------------------------------------------


def daily_cards(
    conn: Connection,
    first: date,
    last: date,
    user_id: int | None = None,
    sort: Sort = "upvotes",
    show_hidden: bool = False,
    now: datetime | None = None,
) -> list[Card]:
    """The papers listed from `first` to `last` (inclusive): pinned first, then by `sort`.

    One query: the vote counts and the reader's own votes are correlated subqueries
    (indexed by paper), not separate round trips (issue #4)."""
    submitter = func.coalesce(users.c.username, entries.c.submitted_by_name)
    on_paper = votes.c.arxiv_id == entries.c.arxiv_id
    counted = select(func.count()).where(on_paper).correlate(entries).scalar_subquery()
    if user_id is None:
        mine = literal(False)
    else:
        mine = exists().where(on_paper, votes.c.user_id == user_id).correlate(entries)
    q = (
        select(
            *CARD_COLUMNS,
            entries.c.id.label("entry_id"),
            entries.c.day,
            entries.c.imported_upvotes,
            entries.c.pinned,
            entries.c.hidden,
            entries.c.curated,
            entries.c.created_at.label("entry_created"),
            submitter.label("submitter"),
            counted.label("votes"),
            mine.label("mine"),
            discussion.visible_count_of(entries.c.arxiv_id).label("num_comments"),
        )
        .join(papers, papers.c.arxiv_id == entries.c.arxiv_id)
        .outerjoin(users, users.c.id == entries.c.submitted_by_user)
        .where(entries.c.day >= first, entries.c.day <= last)
        .order_by(entries.c.day.desc(), entries.c.id)
    )
    if not show_hidden:
        q = q.where(entries.c.hidden.is_(False))
    best: dict[str, tuple] = {}
    for row in conn.execute(q):
        kept = best.get(row.arxiv_id)  # a paper on several days of a week: its best entry
        if kept is None or (row.pinned, row.imported_upvotes) > (kept.pinned, kept.imported_upvotes):
            best[row.arxiv_id] = row
    cards = []
    for row in best.values():
        cards.append(
            _card(
                row,
                upvotes=row.imported_upvotes + row.votes,
                voted=bool(row.mine),
                submitter=row.submitter,
                day=row.day,
                entry_id=row.entry_id,
                pinned=row.pinned,
                hidden=row.hidden,
                curated=row.curated,
                entry_created=row.entry_created,
                num_comments=row.num_comments,
            )
        )
    if sort == "trending":
        _add_trend(conn, cards, now or datetime.now(UTC))
    return sort_cards(cards, sort)


def _add_trend(conn: Connection, cards: list[Card], now: datetime) -> None:
    ids = [c.arxiv_id for c in cards]
    moments: dict[str, list] = {i: [] for i in ids}
    if ids:
        q = select(votes.c.arxiv_id, votes.c.created_at).where(votes.c.arxiv_id.in_(ids))
        for arxiv_id, at in conn.execute(q):
            moments[arxiv_id].append((at, 1))
    for card in cards:
        imported = card.upvotes - len(moments[card.arxiv_id])
        if card.day is not None:
            moments[card.arxiv_id].append((trending.day_start(card.day), imported))
        card.score = trending.log_score(moments[card.arxiv_id], now)


def sort_cards(cards: list[Card], sort: Sort) -> list[Card]:
    def published(c: Card) -> float:
        return c.published.timestamp() if c.published else 0.0

    if sort == "newest":
        key = lambda c: (not c.pinned, -published(c), c.arxiv_id)  # noqa: E731
    elif sort == "trending":
        key = lambda c: (not c.pinned, -(c.score if c.score is not None else -math.inf), -c.upvotes, c.arxiv_id)  # noqa: E731
    else:
        key = lambda c: (not c.pinned, -c.upvotes, -published(c), c.arxiv_id)  # noqa: E731
    return sorted(cards, key=key)


# --- papers by id, trending, newest -------------------------------------------------


def paper_cards(conn: Connection, ids: list[str], user_id: int | None = None) -> list[Card]:
    """Cards for papers by id, in the order given; unknown ids are skipped."""
    if not ids:
        return []
    rows = {r.arxiv_id: r for r in conn.execute(select(*CARD_COLUMNS).where(papers.c.arxiv_id.in_(ids)))}
    found = [i for i in ids if i in rows]
    counts, imported = site_votes.vote_counts(conn, found), site_votes.imported_upvotes(conn, found)
    mine = site_votes.user_votes(conn, user_id, found)
    talk = discussion.visible_counts(conn, found)
    return [
        _card(rows[i], upvotes=imported.get(i, 0) + counts.get(i, 0), voted=i in mine, num_comments=talk.get(i, 0))
        for i in found
    ]


def listed_cards(engine: Engine, arxiv_ids: Iterable[str]) -> list[Card]:
    """Cards for the stored papers among `arxiv_ids`, in order, each with the first
    visible daily list it was on (its day and submitter), if any."""
    with engine.connect() as conn:
        return with_entries(conn, paper_cards(conn, list(dict.fromkeys(arxiv_ids))))


def with_entries(conn: Connection, cards: list[Card]) -> list[Card]:
    """`cards`, each given the first visible daily list it was on (its day and submitter), if any."""
    first = daily_entries.first_entries(conn, [c.arxiv_id for c in cards])
    for card in cards:
        if card.arxiv_id in first:
            card.day, card.submitter, card.entry_created = first[card.arxiv_id]
    return cards


def in_categories(cards: Iterable[Card], wanted: tuple[str, ...]) -> list[Card]:
    """The cards of papers in any of the `wanted` categories (all of them when none)."""
    return [c for c in cards if cats.any_match(c.categories, wanted)]


def trending_cards(engine: Engine, limit: int, categories: tuple[str, ...] = ()) -> list[Card]:
    """The trending papers (as on the trending page), best first, with their daily entries."""
    ranked = trending.trending(engine, limit=limit, categories=categories)
    cards = listed_cards(engine, [arxiv_id for arxiv_id, _ in ranked])
    for card, (_, score) in zip(cards, ranked, strict=False):
        card.score = score
    return cards


def recent_cards(engine: Engine, limit: int) -> list[Card]:
    """The most recently published papers (the search endpoint without a query)."""
    with engine.connect() as conn:
        newest = conn.execute(
            select(Paper.arxiv_id)
            .order_by(Paper.published.desc().nulls_last(), Paper.arxiv_id.desc())
            .limit(limit)
        ).scalars()
        ids = list(newest)
    return listed_cards(engine, ids)


def newest_cards(engine: Engine, limit: int, after: tuple[datetime | None, str] | None = None) -> list[Card]:
    """Papers newest first (undated last, then by id, descending), from just after `after`
    (a (published, arxiv_id) position): the pages of `GET /api/papers`."""
    arxiv_id = db.binary_order(engine, Paper.arxiv_id)
    q = select(Paper.arxiv_id).order_by(Paper.published.desc().nulls_last(), arxiv_id.desc()).limit(limit)
    if after is not None:
        published, last_id = after
        if published is None:
            q = q.where(Paper.published.is_(None), arxiv_id < last_id)
        else:
            q = q.where(or_(
                Paper.published < published,
                and_(Paper.published == published, arxiv_id < last_id),
                Paper.published.is_(None),
            ))
    with engine.connect() as conn:
        ids = list(conn.execute(q).scalars())
    return listed_cards(engine, ids)


# --- the API's daily query ----------------------------------------------------------


@dataclass(frozen=True)
class DailyQuery:
    start: date | None = None  # inclusive; start and end None: every day
    end: date | None = None  # inclusive
    submitter: str | None = None
    sort: str = "publishedAt"  # or "trending"
    page: int = 0
    limit: int = 50
    categories: tuple[str, ...] = ()  # papers in any of these (`paperfeed.categories`); () all


def daily(engine: Engine, q: DailyQuery, now: datetime | None = None) -> list[Card]:
    """One page of a period's daily papers: newest day first and most upvoted first
    within a day (`publishedAt`), or by trending score.  A paper listed on several
    days of the period appears once.  Without a period: the newest days, or what is
    trending now.  Only the first `MAX_DEPTH` entries are paged through: a page
    that starts past them is empty, and nothing is read for it."""
    if q.page * q.limit >= MAX_DEPTH:
        return []
    wanted = min((q.page + 1) * q.limit, MAX_DEPTH)
    if q.start is None and q.sort == "trending":
        cards = trending_cards(engine, wanted, q.categories)  # what is trending now, as on the trending page
        if q.submitter:
            cards = [c for c in cards if c.submitter == q.submitter]
        return cards[q.page * q.limit : wanted]
    with engine.connect() as conn:
        if q.start is not None and q.end is not None:
            cards = _period(conn, q, q.start, q.end, now)
        else:
            cards = _recent_days(conn, q, wanted, now)
    return cards[q.page * q.limit : wanted]


def _period(conn: Connection, q: DailyQuery, first: date, last: date, now: datetime | None) -> list[Card]:
    sort = "trending" if q.sort == "trending" else "upvotes"
    cards = in_categories(daily_cards(conn, first, last, sort=sort, now=now), q.categories)
    if q.submitter:
        cards = [c for c in cards if c.submitter == q.submitter]
    if q.sort != "trending":  # stable: upvote order is kept within a day
        cards.sort(key=lambda c: c.day or date.min, reverse=True)
    return cards


def _recent_days(conn: Connection, q: DailyQuery, wanted: int, now: datetime | None) -> list[Card]:
    """Enough of the newest days (with the submitter's entries) to fill the requested page.

    Entry counts over-estimate (a paper on two days is listed once), so they are
    safe without a category filter; with one, the days read double until the
    page fills, the days run out or `RECENT_SCAN` entries were read."""
    days = daily_entries.entry_counts_by_day(conn, q.submitter)  # newest first
    target, total, n = wanted, 0, 0
    while n < len(days):
        while n < len(days) and total < target:
            total, n = total + days[n][1], n + 1
        cards = _period(conn, q, days[n - 1][0], days[0][0], now)
        if not q.categories or len(cards) >= wanted or total >= RECENT_SCAN or n == len(days):
            return cards
        target = min(2 * target, RECENT_SCAN)
    return []
