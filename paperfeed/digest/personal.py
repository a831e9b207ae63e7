"""
The digest's personal sections: "For you" and "New from authors you follow".

A subscriber gets them when their confirmed address equals (trimmed, case
folded) the *verified* address of an account that is not disabled
(`users.email_verified_at`, set through the mailed link of
`digest.verification`), and their `for_you` preference is on.  Anything less
(an account address never verified, a typo on either side, a disabled
account) links to nobody, so one reader's library, follows and why-lines never
reach another reader's inbox.

- "For you": the period's papers ranked for that account by
  `paperfeed.recommend` (its window, profile and `fit.DIGEST` model, as the
  For you page ranks them), each with the page's why-lines.  Only papers that
  fit the library (`MIN_FIT`; for a reader who saved nothing, that match a
  follow) are offered: a digest is short, and a weak neighbour would only
  push out a trending paper.
- "New from authors you follow": papers of the period with a followed author,
  newest first, from the `paper_authors` index (no search extra needed).
- The reader's "not interested" papers are left out of their whole digest,
  saved ones out of the personal sections.

The work is done for linked subscribers only: the verified accounts are read
once per run, a `recommend` window is built once per frequency on the first
linked subscriber, and each batch costs one query per kind of library data
(`source.profiles`: ids, the library's vectors and stored tf-idf rows read once
for the batch) plus one profile per linked account.
Every ranking goes through `rank_readers`.  A digest ranks three times what it
shows, so why-lines are named only for the papers it takes (`Why`): the shared
terms then, and the named saved papers' titles and key terms in one query per
batch (`About`).  Without the search extra (numpy) or before the first
`paperfeed index` the For you section is left out, logged once, and the rest
of the digest goes out as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Connection, Engine, select

from paperfeed.models import Dismissal, Follow, Paper, PaperAuthor, SavedPaper, User
from paperfeed.names import short_key

log = logging.getLogger("paperfeed.digest")
users_t, follows_t, dismissed_t, saved_t = User.__table__, Follow.__table__, Dismissal.__table__, SavedPaper.__table__
papers_t, authors_t = Paper.__table__, PaperAuthor.__table__

# Library fit (the mean pair similarity with the nearest saved papers, `fit.Model`) a paper
# needs to enter the digest's For you.  On SciFact with one-paper libraries (434 topic papers,
# benchmarks/foryou_floor.py, For-you vectors onnx/128, w = 0.5) 0.22 keeps 95% of a topic's other papers
# and 1.9% of the rest.
MIN_FIT = 0.22
RANK_DEPTH = 3  # papers ranked per paper of the digest: enough after the ones sent before
MAX_FOLLOWED = 100  # followed-author papers offered per reader
CHUNK = 500
ABOUT_AHEAD = 12  # For you papers a reader's `Why` wants the named saved papers of before any is taken


def fold(address: str | None) -> str:
    """An address as compared: trimmed, case-folded."""
    return (address or "").strip().casefold()


@dataclass
class Reader:
    """What the digest of one linked subscriber adds: ranked ids with their why-lines.

    For you's why-lines are a function of the paper, called for the papers the digest takes
    (`Why`); the followed authors' lines are plain lists."""

    user_id: int
    foryou: list[tuple[str, Callable[[], list[str]]]] = field(default_factory=list)  # best first
    followed: list[tuple[str, list[str]]] = field(default_factory=list)  # newest first
    dismissed: frozenset[str] = frozenset()


def rank_readers(window, profiles: dict) -> dict[int, tuple]:
    """Each reader's (profile, `recommend.Fit`) of `window`, scored with `fit.DIGEST`.

    The one place the digest ranks: `ranking.score_many`, whose shortlists for a batch of
    readers come from one matrix product of the window with all their prototypes.  The digest
    shows a third of the papers it considers (`RANK_DEPTH`), so `Why` makes a paper's
    `Recommendation` (and names its why-lines) only when the digest takes it.
    """
    from paperfeed.recommend import fit, ranking

    return dict(zip(profiles, ranking.score_many(window, profiles.values(), model=fit.DIGEST), strict=True))


def fitting(scored, limit: int):
    """Positions among the first `limit` of a reader's `Fit` that belong in the digest's For you:
    they fit the library (`MIN_FIT`), or (for a reader who follows but saved nothing) a follow.
    A paper by a followed author that fits nothing comes in its own section, without a "close
    to" line that would claim more than the score says."""
    import numpy as np

    from paperfeed.recommend import ranking

    head = np.arange(min(limit, len(scored.rows)))
    lines = ranking.named(scored, head)
    close = lines[:, 0] if lines.shape[1] else np.zeros(len(head), bool)  # a "close to" line
    followed = scored.author_match[head] | scored.category_match[head]
    return np.flatnonzero((scored.fit[head] >= MIN_FIT) | (~close & followed)).tolist()


class About:
    """Titles and key terms of saved papers that why-lines name, for one batch of readers: read in
    one query (per 500) the first time a line is asked for, for every paper wanted by then."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.known: dict[str, tuple[str, list[str] | None]] = {}
        self.wanted: set[str] = set()

    def want(self, ids) -> None:
        self.wanted.update(i for i in ids if i not in self.known)

    def get(self) -> dict[str, tuple[str, list[str] | None]]:
        if self.wanted:
            from paperfeed.recommend import source

            with self.engine.connect() as conn:
                self.known.update(source.about(conn, self.wanted))
            self.wanted.clear()
        return self.known


class Why:
    """One reader's For you why-lines, named when the digest takes a paper: it ranks three times
    what it shows, and a paper's `Recommendation` and its shared terms (`ranking.explain`, the
    costly part) are made then, from the `Fit` that ranked it.  The saved papers named by its
    first `ABOUT_AHEAD` papers are wanted from the batch's `About` at once (a digest takes its
    papers best first), any later one's when it is taken."""

    def __init__(self, about: About, window, profile, scored, positions: list[int]):
        from paperfeed.recommend import ranking

        self.about, self.window, self.profile, self.scored = about, window, profile, scored
        self.at = {window.ids[int(scored.rows[i])]: i for i in positions}
        about.want(ranking.named_saved(profile, scored, positions[:ABOUT_AHEAD]))
        self.ahead = set(positions[:ABOUT_AHEAD])

    def lines(self, arxiv_id: str) -> list[str]:
        from paperfeed.recommend import ranking

        i = self.at[arxiv_id]
        rec = ranking.recommendation_at(self.window, self.profile, self.scored, i)
        if i not in self.ahead:
            self.about.want(n.arxiv_id for n in rec.closest)
        return ranking.explain(rec, self.about.get()).why()

    def entries(self) -> list[tuple[str, Callable[[], list[str]]]]:
        return [(a, partial(self.lines, a)) for a in self.at]


def author_line(name: str) -> str:
    return f"By {name}, an author you follow"  # the wording of `Recommendation.why`


class Personal:
    """The personal sections of one digest run; `readers(rows, since)` per batch of subscribers."""

    def __init__(self, engine: Engine, end: datetime):
        self.engine = engine
        self.end = end  # the window's end (exclusive), on the hour
        self._accounts: dict[str, int] | None = None
        self._windows: dict[datetime, object] = {}  # start -> recommend.Window, or None: unavailable
        self.unavailable: str | None = None

    def accounts(self) -> dict[str, int]:
        """Folded verified address -> account id (the latest verified when several share one)."""
        if self._accounts is None:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(users_t.c.id, users_t.c.email)
                    .where(users_t.c.email_verified_at.is_not(None), users_t.c.disabled_at.is_(None),
                           users_t.c.email.is_not(None))
                    .order_by(users_t.c.email_verified_at, users_t.c.id)
                ).all()
            self._accounts = {fold(r.email): r.id for r in rows if fold(r.email)}
        return self._accounts

    def linked(self, rows) -> dict[int, int]:
        """Subscriber id -> account id, for the rows that get the personal sections."""
        accounts = self.accounts()
        if not accounts:
            return {}
        out = {}
        for r in rows:
            if r.for_you and r.confirmed_at is not None and (uid := accounts.get(fold(r.email))) is not None:
                out[r.id] = uid
        return out

    def readers(self, rows, since: Callable[[str], datetime]) -> dict[int, Reader]:
        """Subscriber id -> `Reader` for the linked rows; `since(frequency)` starts their period."""
        linked = self.linked(rows)
        if not linked:
            return {}
        by_id = {r.id: r for r in rows if r.id in linked}
        uids = sorted(set(linked.values()))
        starts = {by_id[sid].frequency: since(by_id[sid].frequency) for sid in linked}
        with self.engine.connect() as conn:
            dismissed = _per_user(conn, dismissed_t, uids)
            keys = _followed_keys(conn, uids)
            followed = _followed_papers(conn, keys, min(starts.values()), self.end)
            saved = _saved_among(conn, uids, {a for a, *_ in followed})
            ranked: dict[str, dict[int, list]] = {}
            for frequency, start in starts.items():
                mine = {sid: uid for sid, uid in linked.items() if by_id[sid].frequency == frequency}
                depth = RANK_DEPTH * max(by_id[sid].max_papers for sid in mine)
                ranked[frequency] = self._ranked(conn, start, sorted(set(mine.values())), depth)
        by_key: dict[str, list[tuple]] = {}
        for paper in followed:
            by_key.setdefault(paper[1], []).append(paper)
        out = {}
        for sid, uid in linked.items():
            row = by_id[sid]
            skip = saved.get(uid, set())
            theirs = sorted((p for k in keys.get(uid, ()) for p in by_key.get(k, ())), key=lambda p: (p[3], p[0]),
                            reverse=True)  # newest first
            lines: dict[str, list[str]] = {}
            for aid, _, name, published in theirs:
                if aid not in skip and published >= starts[row.frequency]:
                    line = author_line(name)
                    if line not in lines.setdefault(aid, []):
                        lines[aid].append(line)
            out[sid] = Reader(uid, ranked[row.frequency].get(uid, []), list(lines.items())[:MAX_FOLLOWED],
                              frozenset(dismissed.get(uid, ())))
        return out

    def _ranked(self, conn: Connection, start: datetime, uids: list[int], depth: int) -> dict[int, list]:
        """Account id -> [(arxiv_id, why-lines function)] of its For you, best first ({} when unavailable)."""
        window = self._window(conn, start)
        if window is None:
            return {}
        from threadpoolctl import threadpool_limits

        from paperfeed.recommend import source

        # One BLAS thread: a reader's products are small (a library of hundreds of rows), and
        # OpenBLAS's threads cost more than they give there: 10 instead of 133 ms a profile,
        # 7 instead of 31 ms a ranking on 2 shared cores (benchmarks/digest.py, RESULTS.md).
        with threadpool_limits(limits=1, user_api="blas"):
            profiles = {uid: p for uid, p in source.profiles(conn, uids, window).items() if not p.empty}
            ranked = rank_readers(window, profiles) if profiles else {}
        about = About(self.engine)
        return {uid: Why(about, window, profile, scored, fitting(scored, depth)).entries()
                for uid, (profile, scored) in ranked.items()}

    def _window(self, conn: Connection, start: datetime):
        """The recommend window of papers first announced in [start, end), built once per run."""
        if start in self._windows:
            return self._windows[start]
        window = None
        try:
            from paperfeed.recommend import source  # numpy: the `search` extra
        except ImportError as exc:
            from paperfeed.search.errors import missing_extra

            self._left_out(f"For you ranks with the search index, and {missing_extra(exc)}")
        else:
            try:
                window = source.window(conn, start, self.end)
            except source.IndexNotBuilt:
                self._left_out("the search index is not built yet (`paperfeed index`)")
            except Exception as e:  # a broken index must not stop the digest
                self._left_out(f"{type(e).__name__}: {e}")
        self._windows[start] = window
        return window

    def _left_out(self, why: str) -> None:
        if self.unavailable is None:
            log.warning("digest: sending without the For you section: %s", why)
        self.unavailable = why


def _per_user(conn: Connection, table, uids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for i in range(0, len(uids), CHUNK):
        for uid, aid in conn.execute(select(table.c.user_id, table.c.arxiv_id)
                                     .where(table.c.user_id.in_(uids[i : i + CHUNK]))):
            out.setdefault(uid, set()).add(aid)
    return out


def _followed_keys(conn: Connection, uids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for i in range(0, len(uids), CHUNK):
        for uid, key in conn.execute(select(follows_t.c.user_id, follows_t.c.key).where(
                follows_t.c.user_id.in_(uids[i : i + CHUNK]), follows_t.c.kind == "author")):
            out.setdefault(uid, set()).add(key)
    return out


def _followed_papers(conn: Connection, keys: dict[int, set[str]], start: datetime, end: datetime) -> list[tuple]:
    """(arxiv_id, author key, name as written, published) of papers in [start, end) by these keys."""
    wanted = sorted({k for ks in keys.values() for k in ks})
    found = []
    for i in range(0, len(wanted), CHUNK):
        chunk = wanted[i : i + CHUNK]
        # (short, key) is the index's order; the short key is a function of the key, so this is exact
        found += conn.execute(
            select(authors_t.c.arxiv_id, authors_t.c.key, authors_t.c.position, papers_t.c.authors,
                   papers_t.c.published)
            .join(papers_t, papers_t.c.arxiv_id == authors_t.c.arxiv_id)
            .where(authors_t.c.short.in_(sorted({short_key(k) for k in chunk})), authors_t.c.key.in_(chunk),
                   papers_t.c.published >= start, papers_t.c.published < end)
        ).all()
    out = []
    for r in found:
        names = list(r.authors or [])
        out.append((r.arxiv_id, r.key, names[r.position] if r.position < len(names) else r.key, r.published))
    return out


def _saved_among(conn: Connection, uids: list[int], ids: set[str]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    wanted = sorted(ids)
    for i in range(0, len(wanted), CHUNK):
        for uid, aid in conn.execute(select(saved_t.c.user_id, saved_t.c.arxiv_id).where(
                saved_t.c.user_id.in_(uids), saved_t.c.arxiv_id.in_(wanted[i : i + CHUNK]))):
            out.setdefault(uid, set()).add(aid)
    return out


def period_start(now: datetime, length: timedelta) -> datetime:
    """The start of a period's window: `length` before `now`, on the hour."""
    return (now - length).replace(minute=0, second=0, microsecond=0)


def hour_after(now: datetime) -> datetime:
    """The next full hour after `now` (a window's end that stays put for an hour)."""
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
