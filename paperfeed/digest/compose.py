"""
What goes in each digest.

A digest holds, for one subscriber and one period: the top trending papers,
then for each saved search the new papers matching it since the subscriber's
last digest.  Each paper appears once (with every reason it is there:
"trending", "matches: state space models"), nothing already sent to that
subscriber appears again, and only the subscriber's categories count when they
chose some.  A digest with no papers is not sent.

Trending ranks only papers with upvotes, so on a quiet day (most days on a
small deployment) it is short or empty; then the section is filled from the
period's daily list (`trending.daily_list`: pinned first, then list order)
and titled for what it holds: "Trending", "Today's papers", or "Trending,
then today's papers".  The filled papers obey the same rules (once, never twice,
the subscriber's categories).

Work is shared across subscribers, which is what makes 100,000 digests cheap
(`benchmarks/digest.py`): a `Composer` computes the trending list once per
frequency, runs each distinct saved query once per search window (hybrid
search restricted to the window with its `after`/`before` filters), reads each
paper once, and checks a whole batch of subscribers' sent papers in one query.

A subscriber whose address is an account's verified one also gets, first,
"For you" and "New from authors you follow" (`digest.personal`): together at
most half the digest (at least one paper), then the sections above share the
rest, and whatever is left over goes back to them.

Search windows are whole days, starting `ANNOUNCE_LAG` before the last digest:
arXiv's `published` is the submission time, and papers reach the database a
day or more after it, so a window of exact instants would miss most of them.
The sent-papers record keeps the overlap from repeating anything.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, select

from paperfeed import settings
from paperfeed.categories import prefixes
from paperfeed.digest.personal import Personal, Reader, hour_after, period_start
from paperfeed.digest.schedule import Due
from paperfeed.digest.shared import Key, Shared
from paperfeed.models import DigestSentPaper, Paper

log = logging.getLogger("paperfeed.digest")
papers_t = Paper.__table__
sent_t = DigestSentPaper.__table__

ANNOUNCE_LAG = timedelta(days=3)
TRENDING_DEPTH = 60  # trending papers considered (subscribers filter by category and history)
SEARCH_DEPTH = 100  # hits considered per saved search and window
CHUNK = 500  # ids per IN (...) list
# Subscribers whose new saved queries are embedded in one go: at most 200 x 10
# (subscriptions.MAX_SEARCHES) = 2,000 queries, inside the search package's
# 4,096-vector query cache, so none is evicted before its own search runs.
ENCODE_ROWS = 200
SHARE_CHUNK = 32  # searches run between two looks at what other workers published (`digest.shared`)


@dataclass(frozen=True)
class PaperInfo:
    arxiv_id: str
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    published: datetime | None
    keys: frozenset[str] = frozenset()  # category_keys(categories)


@dataclass
class Section:
    title: str  # "Trending" (or what the filled section holds, see `top_title`), "For you", ... or the saved query
    kind: str  # "foryou", "authors" (new from followed authors), "trending" or "search"
    entries: list[tuple[str, list[str]]] = field(default_factory=list)  # (arxiv_id, reasons)


@dataclass
class Digest:
    subscriber_id: int
    email: str
    period: str
    window_start: datetime
    window_end: datetime
    sections: list[Section]

    @property
    def arxiv_ids(self) -> list[str]:
        return [a for s in self.sections for a, _ in s.entries]

    @property
    def empty(self) -> bool:
        return not any(s.entries for s in self.sections)

    def entries_json(self) -> list[dict]:
        return [
            {"arxiv_id": a, "reasons": r, "section": s.title, "kind": s.kind}
            for s in self.sections
            for a, r in s.entries
        ]

    @classmethod
    def from_json(cls, subscriber_id, email, period, start, end, entries: list[dict]) -> Digest:
        sections: dict[tuple[str, str], Section] = {}
        for e in entries:
            key = (e["kind"], e["section"])
            sections.setdefault(key, Section(e["section"], e["kind"])).entries.append((e["arxiv_id"], e["reasons"]))
        return cls(subscriber_id, email, period, start, end, list(sections.values()))


def search_window(start: datetime, clock: datetime) -> tuple[date, date]:
    """`after` (inclusive) and `before` (exclusive) days of a saved search's window.

    The window ends with the run's clock rather than each subscriber's due time:
    nothing is published after now, and one end for everybody lets subscribers
    in every time zone share each search.
    """
    return (start - ANNOUNCE_LAG).date(), clock.date() + timedelta(days=1)


def search_ids(engine, text: str, mode: str, limit: int, after: date, before: date) -> list[str]:
    """arXiv ids of the best matches, best first: `paperfeed.search.ids`, the pipeline
    without reading and highlighting each hit (a tenth of the time; the digest reads papers in bulk)."""
    from paperfeed import search

    return search.ids(text, mode=mode, limit=limit, after=after, before=before)


def _encode_queries(texts: list[str]) -> None:
    from paperfeed import search

    search.encode_queries(texts)


def list_days(frequency: str, now: datetime) -> tuple[date, date]:
    """The first and last day of the daily lists a digest at `now` fills from: the period's
    days, and the day before a daily one (today's list may not be out yet at an early hour)."""
    return (now - timedelta(days=7 if frequency == "weekly" else 1)).date(), now.date()


def top_title(trended: bool, days: set[date], today: date, frequency: str) -> str:
    """The first section's title, saying what it holds: trending papers, listed ones or both."""
    if not days:
        return "Trending"
    yesterday = today - timedelta(days=1)
    if days == {today}:
        listed = "today's papers"
    elif frequency == "weekly":
        listed = "this week's papers"
    elif days == {yesterday}:
        listed = "yesterday's papers"
    elif days == {today, yesterday}:
        listed = "today's and yesterday's papers"
    else:
        listed = "recent papers"
    return f"Trending, then {listed}" if trended else listed[0].upper() + listed[1:]


def category_keys(categories: list[str]) -> frozenset[str]:
    """Every filter value that selects one of a paper's categories, lower case
    (`hep-th` → hep-th, hep; `cs.LG` → cs.lg, cs): the rule of `paperfeed.categories`."""
    return frozenset(p for c in categories for p in prefixes(c))


class Composer:
    """Composes digests for many subscribers, sharing every lookup they have in common.

    `trending_fn(engine, since, until, limit)` defaults to `paperfeed.trending.trending`,
    `search_fn(engine, text, mode=, limit=, after=, before=)` (arXiv ids, best
    first) to `search_ids`, that is `paperfeed.search`; `encode_fn(texts)`, which
    embeds a batch's saved queries before they are searched, to
    `paperfeed.search.encode_queries` with the default `search_fn`, else to nothing;
    `listed_fn(engine, first, last, limit)` ((arxiv_id, day), in list order) to
    `paperfeed.trending.daily_list`.  `personal=False` leaves out the personal sections.
    `shared` (`digest.shared`) shares the saved searches with the other processes composing the run.
    """

    def __init__(
        self,
        engine: Engine,
        now: datetime,
        search_mode: str = "hybrid",
        trending_fn: Callable | None = None,
        search_fn: Callable | None = None,
        full: bool = True,
        encode_fn: Callable | None = None,
        listed_fn: Callable | None = None,
        personal: bool = True,
        shared: Shared | None = None,
    ):
        self.engine = engine
        self.now = now
        self.search_mode = search_mode
        self.full = full  # read titles, authors and abstracts too (for rendering), not only filters
        self._trending_fn = trending_fn
        self._search_fn = search_fn
        self._encode_fn = encode_fn if encode_fn or search_fn else _encode_queries
        self.papers: dict[str, PaperInfo] = {}
        self._trending: dict[str, list[str]] = {}
        self._listed_fn = listed_fn
        self._listed: dict[str, list[tuple[str, date]]] = {}
        self._searches: dict[tuple[str, date, date], list[str]] = {}
        self._encoded: set[str] = set()
        self._windows: dict[tuple[str, date, date], list[str]] = {}
        self.search_calls = 0
        self.searches_adopted = 0  # run by another worker (`shared`)
        self.search_errors: set[str] = set()
        self.personal = Personal(engine, hour_after(now)) if personal else None
        self.shared = shared

    # -- shared lookups ------------------------------------------------------------

    def trending_ids(self, frequency: str) -> list[str]:
        if frequency not in self._trending:
            fn = self._trending_fn
            if fn is None:
                from paperfeed.trending import trending as fn
            days = settings.get_int("trending_days")
            if frequency == "weekly":
                days = max(days, 7)
            ranked = fn(self.engine, since=self.now - timedelta(days=days), until=self.now, limit=TRENDING_DEPTH)
            self._trending[frequency] = [arxiv_id for arxiv_id, _ in ranked]
            self.load_papers(self._trending[frequency])
        return self._trending[frequency]

    def listed_ids(self, frequency: str) -> list[tuple[str, date]]:
        """(arxiv_id, day) of the period's daily lists, to fill a short trending section."""
        if frequency not in self._listed:
            fn = self._listed_fn
            if fn is None:
                from paperfeed.trending import daily_list as fn
            first, last = list_days(frequency, self.now)
            self._listed[frequency] = list(fn(self.engine, first, last, TRENDING_DEPTH))
            self.load_papers(a for a, _ in self._listed[frequency])
        return self._listed[frequency]

    def _encode_queries(self, texts: set[str]) -> None:
        """Embed the batch's new saved queries at once (hybrid search embeds each query)."""
        new = sorted(texts - self._encoded)
        if not new or self.search_mode == "keyword" or self._encode_fn is None:
            return
        self._encoded.update(new)
        try:
            self._encode_fn(new)
        except Exception as e:  # each search then embeds its own query, or reports why not
            log.debug("digest: batch query embedding failed (%s: %s)", type(e).__name__, e)

    def search_ids(self, text: str, after: date, before: date) -> list[str]:
        key = (text, after, before)
        if key not in self._searches:
            self._searches[key] = self._search(key) or []
        return self._searches[key]

    def _search(self, key: Key) -> list[str] | None:
        """One search's hits that the database holds, best first; None when it failed."""
        text, after, before = key
        self.search_calls += 1
        try:
            ids = (self._search_fn or search_ids)(
                self.engine, text, mode=self.search_mode, limit=SEARCH_DEPTH, after=after, before=before
            )
        except Exception as e:  # no index yet, a model mismatch: the trending part still goes out
            if type(e).__name__ not in self.search_errors:
                log.warning("digest: saved search failed (%s: %s); sending without it", type(e).__name__, e)
            self.search_errors.add(type(e).__name__)
            return None
        self.load_papers(ids)
        return [a for a in ids if a in self.papers]

    def search_key(self, text: str, after: date, before: date) -> Key:
        """The search that `window_ids(text, after, before)` keeps hits of (see there)."""
        for days in (2, 15):
            edge = (self.now - timedelta(days=days) - ANNOUNCE_LAG).date()
            if after >= edge:
                return text, edge, before
        return text, after, before

    def share_searches(self, keys: set[Key]) -> None:
        """Run or adopt the searches `keys` with the other workers of the run (`digest.shared`):
        this worker's own first, a chunk at a time, then the ones claimed elsewhere and not yet
        published, from the end.  Without a shared file, or when it fails, searches run when a
        subscriber needs them, as on one process."""
        todo = sorted(keys - self._searches.keys())
        if self.shared is None or not todo:
            return
        ran, adopted = self.search_calls, self.searches_adopted
        try:
            mine = self.shared.claim(todo)
            own = [k for k in todo if k in mine]
            for start in range(0, len(own), SHARE_CHUNK):
                part = own[start : start + SHARE_CHUNK]
                self._adopt(self.shared.published(part))  # run by another worker meanwhile
                self._search_and_publish([k for k in part if k not in self._searches])
            others = [k for k in todo if k not in mine]
            while others:
                self._adopt(self.shared.published(others))
                others = [k for k in others if k not in self._searches]
                self._search_and_publish(others[: -SHARE_CHUNK - 1 : -1])
                others = others[:-SHARE_CHUNK]
        except sqlite3.Error as e:
            log.warning("digest: searches not shared with the other workers (%s: %s); searching alone",
                        type(e).__name__, e)
            self.shared = None
        log.debug("digest: %d of a batch's %d new searches run here, %d by other workers", self.search_calls - ran,
                  len(todo), self.searches_adopted - adopted)

    def _search_and_publish(self, keys: list[Key]) -> None:
        if not keys:
            return
        self._encode_queries({text for text, _, _ in keys})
        found = {}
        for key in keys:
            ids = self._search(key)
            self._searches[key] = ids or []
            if ids is not None:  # a failure is not shared: another worker tries for itself
                found[key] = ids
        self.shared.publish(found)

    def _adopt(self, results: dict[Key, list[str]]) -> None:
        """Searches another worker ran, as if run here."""
        results = {k: ids for k, ids in results.items() if k not in self._searches}
        self.load_papers(a for ids in results.values() for a in ids)
        for key, ids in results.items():
            self._searches[key] = [a for a in ids if a in self.papers]
        self.searches_adopted += len(results)

    def window_ids(self, text: str, after: date, before: date) -> list[str]:
        """Hits of `text` published on or after `after`, from a search shared with others.

        Daily subscribers (windows starting within two days) share one search
        per query, weekly ones (within fifteen days) another, each over the
        widest window of its kind; every subscriber then keeps the hits of its
        own window.  Older windows (digests missed for weeks) search alone.
        """
        key = (text, after, before)
        if key not in self._windows:
            ids = self.search_ids(*self.search_key(text, after, before))
            papers = self.papers
            self._windows[key] = [
                a for a in ids if papers[a].published is None or papers[a].published.date() >= after
            ]
        return self._windows[key]

    def personal_since(self, frequency: str) -> datetime:
        """Where a frequency's For you window starts: its period and `ANNOUNCE_LAG` before the run."""
        return period_start(self.now, timedelta(days=7 if frequency == "weekly" else 1) + ANNOUNCE_LAG)

    def load_papers(self, ids: Iterable[str]) -> None:
        missing = [i for i in dict.fromkeys(ids) if i not in self.papers]
        if not missing:
            return
        cols = [papers_t.c.arxiv_id, papers_t.c.categories, papers_t.c.published]
        if self.full:
            cols += [papers_t.c.title, papers_t.c.authors, papers_t.c.abstract]
        with self.engine.connect() as conn:
            for i in range(0, len(missing), CHUNK):
                for r in conn.execute(select(*cols).where(papers_t.c.arxiv_id.in_(missing[i : i + CHUNK]))):
                    cats = list(r.categories or [])
                    text = (r.title or "", list(r.authors or []), r.abstract or "") if self.full else ("", [], "")
                    self.papers[r.arxiv_id] = PaperInfo(r.arxiv_id, *text, cats, r.published, category_keys(cats))

    def sent_sets(self, subscriber_ids: list[int], candidates: set[str]) -> dict[int, set[str]]:
        """Which of `candidates` each subscriber already got, in one query per chunk."""
        out: dict[int, set[str]] = {}
        if not subscriber_ids or not candidates:
            return out
        cand = sorted(candidates)
        with self.engine.connect() as conn:
            for i in range(0, len(subscriber_ids), CHUNK):
                ids = subscriber_ids[i : i + CHUNK]
                stmt = select(sent_t.c.subscriber_id, sent_t.c.arxiv_id).where(sent_t.c.subscriber_id.in_(ids))
                if len(cand) <= 5 * CHUNK:
                    stmt = stmt.where(sent_t.c.arxiv_id.in_(cand))
                for sid, aid in conn.execute(stmt):
                    if aid in candidates:
                        out.setdefault(sid, set()).add(aid)
        return out

    # -- per subscriber --------------------------------------------------------------

    def compose(self, rows: list, dues: list[Due]) -> list[Digest]:
        """Digests for subscriber rows and their due periods (empty digests included)."""
        plans = []
        candidates: set[str] = set()
        readers = self.personal.readers(rows, self.personal_since) if self.personal else {}
        self.load_papers(a for r in readers.values() for a, _ in [*r.foryou, *r.followed])
        starts = [row.last_window_end or (due.due_at - due.length) for row, due in zip(rows, dues, strict=True)]
        windows = [search_window(start, self.now) for start in starts]
        keys = [[self.search_key(q, *window) for q in (row.searches or [])]
                for row, window in zip(rows, windows, strict=True)]
        self.share_searches({k for ks in keys for k in ks})
        for i, (row, due, start, (after, before)) in enumerate(zip(rows, dues, starts, windows, strict=True)):
            if i % ENCODE_ROWS == 0:  # the queries still to search
                self._encode_queries({k[0] for ks in keys[i : i + ENCODE_ROWS] for k in ks if k not in self._searches})
            trending = self.trending_ids(row.frequency)
            listed = self.listed_ids(row.frequency)
            searched = [(q, self.window_ids(q, after, before)) for q in (row.searches or [])]
            candidates.update(trending)
            candidates.update(a for a, _ in listed)
            for _, ids in searched:
                candidates.update(ids)
            if (reader := readers.get(row.id)) is not None:
                candidates.update(a for a, _ in [*reader.foryou, *reader.followed])
            plans.append((row, due, start, trending, listed, searched))
        sent = self.sent_sets([row.id for row, *_ in plans], candidates)
        empty: set[str] = set()
        return [
            self._assemble(row, due, start, trending, listed, searched, sent.get(row.id, empty), readers.get(row.id))
            for row, due, start, trending, listed, searched in plans
        ]

    def _assemble(self, row, due: Due, start, trending, listed, searched, already: set[str],
                  reader: Reader | None = None) -> Digest:
        cats = frozenset(c.strip().lower() for c in row.categories or [])
        papers = self.papers
        if reader is not None:
            already = already | reader.dismissed  # "not interested" hides a paper from the whole digest

        n = max(1, row.max_papers)

        def fresh(ids):  # the first 2n unsent papers in the subscriber's categories: enough to fill
            out = []
            for a in ids:
                if a not in already and a in papers and (not cats or not papers[a].keys.isdisjoint(cats)):
                    out.append(a)
                    if len(out) >= 2 * n:
                        break
            return out

        # paper -> where its reasons come from: lines, or For you's function of them (named on use)
        reasons: dict[str, list] = {}

        def because(aid, lines):
            reasons.setdefault(aid, []).append(lines)

        mine: list[tuple[Section, list[str]]] = []
        if reader is not None:  # why-lines first: they say most about why the paper is here
            for section, entries in ((Section("For you", "foryou"), reader.foryou),
                                     (Section("New from authors you follow", "authors"), reader.followed)):
                why = dict(entries)
                ids = fresh([a for a, _ in entries])
                for a in ids:
                    because(a, why[a])
                mine.append((section, ids))
        trend = fresh(trending)
        for a in trend:
            because(a, ["trending"])
        listed_on: dict[str, date] = {}
        if len(trend) < n:  # a quiet period: the daily list fills what trending cannot
            day_of = dict(listed)
            today = self.now.date()
            held = set(trend)
            for a in fresh([a for a, _ in listed if a not in held])[: 2 * n - len(trend)]:
                trend.append(a)
                listed_on[a] = day_of[a]
                because(a, ["listed today" if day_of[a] == today else f"listed {day_of[a].isoformat()}"])
        lists = [(q, fresh(ids)) for q, ids in searched]
        for q, ids in lists:
            for a in ids:
                because(a, [f"matches: {q}"])
        chosen: set[str] = set()
        trend_section = Section("Trending", "trending")
        searches = [(Section(q, "search"), ids) for q, ids in lists]

        def take(section, aid):
            chosen.add(aid)
            lines: list[str] = []
            for given in reasons[aid]:
                for line in given() if callable(given) else given:
                    if line not in lines:
                        lines.append(line)
            section.entries.append((aid, lines))

        def fill(section, ids, upto):
            for a in ids:
                if len(chosen) >= upto:
                    break
                if a not in chosen:
                    take(section, a)

        def round_robin(pairs, upto):  # one paper from each list in turn
            cursors = [0] * len(pairs)
            progress = True
            while len(chosen) < upto and progress:
                progress = False
                for i, (section, ids) in enumerate(pairs):
                    while cursors[i] < len(ids) and ids[cursors[i]] in chosen:
                        cursors[i] += 1
                    if cursors[i] < len(ids) and len(chosen) < upto:
                        take(section, ids[cursors[i]])
                        cursors[i] += 1
                        progress = True

        if mine:  # For you and followed authors: up to half the digest, in turn
            round_robin(mine, max(1, n // 2))
        left = n - len(chosen)
        fill(trend_section, trend, min(n, len(chosen) + (left if not lists else max(1, left // 2))))
        # saved searches share the rest round-robin, then trending and the personal lists top up what they leave
        round_robin(searches, n)
        fill(trend_section, trend, n)
        round_robin(mine, n)
        held = [a for a, _ in trend_section.entries]
        trend_section.title = top_title(
            any(a not in listed_on for a in held), {listed_on[a] for a in held if a in listed_on},
            self.now.date(), row.frequency,
        )
        ordered = [s for s, _ in mine] + [trend_section] + [s for s, _ in searches]
        return Digest(row.id, row.email, due.period, start, due.due_at, [s for s in ordered if s.entries])
