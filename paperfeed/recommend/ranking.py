"""
"For you": a window's papers ranked for one reader, each with its why-lines.

    window = Window.build(ids, vectors, categories=..., authors=..., upvotes=..., texts=..., space=space)
    profile = Profile.build(saved_ids, saved_vectors, saved_terms=space.rows(saved_texts), ...)
    for rec in rank(window, profile, limit=20):
        rec.arxiv_id, rec.score, rec.why()      # why(): lines a reader checks at a glance

Saved and dismissed papers never appear.  With `hidden_gems=True`, among the
`gem_pool` best-fitting papers those with at most `gem_upvotes` upvotes come
first (by fit), then the rest of the pool, then everything else: good papers
nobody has upvoted yet.  Every reason is read off the computation that gave
the score (`fit.Fit`): the saved papers are the ones whose terms add up to it,
the shared terms are those whose tf-idf weights add to the pair similarity
with them (only when the model used terms), stored key terms of either paper
first and then by weight, the follow lines are
the bonuses that were added.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice

import numpy as np

from paperfeed.recommend.fit import DEFAULT, Fit, Model, prescores, score
from paperfeed.recommend.follows import category_matches
from paperfeed.recommend.profile import MAX_PROTOTYPES, Profile
from paperfeed.recommend.terms import key_term_forms, shared_terms_weighted
from paperfeed.recommend.terms import row as term_row
from paperfeed.recommend.window import Window

MAX_LIMIT = 500
MAX_NAMED = 3  # saved papers named in a why-line
MAX_TERMS = 4
GEM_UPVOTES = 2
GEM_POOL = 50
BATCH_CELLS = 8_000_000  # window rows x prototypes in one product of `rank_many` (32 MB of float32)


@dataclass
class Neighbour:
    """A saved paper a recommendation is close to."""

    arxiv_id: str
    title: str
    similarity: float  # the pair similarity the model used
    contribution: float  # its share of the score


@dataclass
class Recommendation:
    arxiv_id: str
    score: float
    fit: float  # the library's part of the score (without follows and dismissals)
    upvotes: int
    closest: list[Neighbour] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)  # followed authors, as written on the paper
    categories: list[str] = field(default_factory=list)  # followed categories it is in
    gem: bool = False  # promoted by the hidden-gems switch
    pending: Pending | None = field(default=None, repr=False, compare=False)  # terms not named yet: `explain`

    def why(self) -> list[str]:
        """The reasons, in words: closest saved papers, shared terms, followed authors and categories."""
        lines = []
        if self.closest:
            names = ", ".join(f"“{n.title}”" if n.title else n.arxiv_id for n in self.closest)
            lines.append(f"Close to {names} in your library")
        if self.terms:
            lines.append("Shares " + ", ".join(self.terms))
        for name in self.authors:
            lines.append(f"By {name}, an author you follow")
        if self.categories:
            lines.append(f"In {', '.join(self.categories)}, which you follow")
        if self.gem:
            lines.append(f"Few upvotes yet ({self.upvotes})")
        return lines


def rank(
    window: Window,
    profile: Profile,
    *,
    model: Model = DEFAULT,
    limit: int = 20,
    offset: int = 0,
    hidden_gems: bool = False,
    gem_upvotes: int = GEM_UPVOTES,
    gem_pool: int = GEM_POOL,
    explain_now: bool = True,
) -> list[Recommendation]:
    """One page of the window's papers for this reader, best first, with why-lines
    (`explain_now=False`: shared terms left to `explain`)."""
    return page(window, profile, score(window, profile, model), limit=limit, offset=offset,
                hidden_gems=hidden_gems, gem_upvotes=gem_upvotes, gem_pool=gem_pool, explain_now=explain_now)


def rank_many(
    window: Window,
    profiles: Iterable[Profile],
    *,
    model: Model = DEFAULT,
    limit: int = 20,
    offset: int = 0,
    hidden_gems: bool = False,
    gem_upvotes: int = GEM_UPVOTES,
    gem_pool: int = GEM_POOL,
    batch_cells: int = BATCH_CELLS,
    explain_now: bool = True,
) -> Iterator[list[Recommendation]]:
    """`rank` for many readers of one window: yields each profile's page, in order.

    The same pages as `rank(window, p, ...)` for every p, why-lines included;
    what differs is that the shortlists of a batch of readers come from one
    matrix product of the window with all their prototypes (`score_many`).
    `explain_now=False` leaves each page's shared terms to `explain` (see `recommendation`).
    """
    for profile, fit in score_many(window, profiles, model=model, batch_cells=batch_cells):
        yield page(window, profile, fit, limit=limit, offset=offset, hidden_gems=hidden_gems,
                   gem_upvotes=gem_upvotes, gem_pool=gem_pool, explain_now=explain_now)


def score_many(window: Window, profiles: Iterable[Profile], *, model: Model = DEFAULT,
               batch_cells: int = BATCH_CELLS) -> Iterator[tuple[Profile, Fit]]:
    """(profile, `fit.score` of it) for many readers of one window, in order.

    The shortlists of a batch of readers come from one matrix product of the window with all
    their prototypes (`fit.prescores`), as many readers at a time as keep that product within
    `batch_cells` numbers.  `profiles` is read a batch at a time, so a digest can stream its
    readers' profiles instead of holding them all.  A caller that shows few of the scored
    papers makes their `Recommendation`s with `recommendation_at` (the digest).
    """
    per = max(1, batch_cells // max(1, len(window) * MAX_PROTOTYPES))
    profiles = iter(profiles)
    while batch := list(islice(profiles, per)):
        pre = prescores(window, batch, model)
        for j, profile in enumerate(batch):
            yield profile, score(window, profile, model, pre[:, j])


def page(window: Window, profile: Profile, fit: Fit, *, limit: int, offset: int, hidden_gems: bool,
         gem_upvotes: int, gem_pool: int, explain_now: bool = True) -> list[Recommendation]:
    """The page [offset, offset + limit) of a reader's scored candidates, with their reasons."""
    limit = max(0, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    order = np.arange(len(fit.rows))
    gems = np.zeros(len(order), bool)
    if hidden_gems:
        order, gems = gem_order(fit, window, gem_upvotes, gem_pool)
    shown = order[offset : offset + limit]
    named = zip(*(a[shown, :MAX_NAMED].tolist() for a in (fit.saved, fit.contribution, fit.sim)), strict=True)
    return [recommendation(window, profile, fit, int(i), bool(gems[i]), explain_now, nearest)
            for i, nearest in zip(shown.tolist(), named, strict=True)]


def gem_order(fit: Fit, window: Window, gem_upvotes: int, pool: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions into `fit` for the hidden-gems switch, and which are gems.

    Within the `pool` best-fitting candidates with some fit (score > 0),
    those with at most `gem_upvotes` upvotes come first, in fit order.
    """
    n = len(fit.rows)
    head = np.arange(min(pool, n))
    head = head[fit.score[head] > 0]
    low = window.upvotes[fit.rows[head]] <= gem_upvotes
    first = np.concatenate([head[low], head[~low]])
    rest = np.setdiff1d(np.arange(n), first, assume_unique=True)
    gems = np.zeros(n, bool)
    gems[head[low]] = True
    return np.concatenate([first, rest]).astype(np.int64), gems


@dataclass
class Pending:
    """What `explain` reads to name a recommendation's shared terms after ranking: the candidate's
    row, the saved papers its why-line names (indices into `profile.saved_ids`) and their contributions."""

    window: Window
    profile: Profile
    row: int
    named: list[int]
    weights: np.ndarray


def recommendation(window: Window, profile: Profile, fit: Fit, i: int, gem: bool, explain_now: bool,
                   nearest: tuple[list, list, list]) -> Recommendation:
    """The i-th scored candidate with its reasons, read off `fit`; `nearest` is row i's first
    `MAX_NAMED` saved indices, contributions and similarities as lists (`page` converts a page at once).

    `explain_now=False` leaves the shared terms (the costly part) to `explain`, for a caller that
    reads the saved papers' titles afterwards, or shows few of the papers it ranks (the digest)."""
    row = int(fit.rows[i])
    closest = []
    named: list[int] = []
    for s, c, p in zip(*nearest, strict=True):
        if s < 0 or c <= 0:
            break
        named.append(s)
        closest.append(Neighbour(profile.saved_ids[s], profile.titles[s], p, c))
    pending = None
    if fit.uses_terms and closest and window.space is not None:
        pending = Pending(window, profile, row, named, fit.contribution[i][: len(named)])
    authors = [a for a, k in zip(window.authors[row], window.author_keys[row], strict=True)
               if k in profile.authors] if fit.author_match[i] else []
    cats = category_matches(window.categories[row], profile.categories)
    rec = Recommendation(
        arxiv_id=window.ids[row], score=float(fit.score[i]), fit=float(fit.fit[i]),
        upvotes=int(window.upvotes[row]), closest=closest,
        authors=list(dict.fromkeys(authors)), categories=cats if fit.category_match[i] else [], gem=gem,
        pending=pending,
    )
    return explain(rec) if explain_now else rec


def recommendation_at(window: Window, profile: Profile, fit: Fit, i: int) -> Recommendation:
    """The i-th scored candidate of `fit` with its reasons, shared terms not named yet (`explain`):
    what `page` makes of each paper it shows, for one paper."""
    nearest = tuple(a[i, :MAX_NAMED].tolist() for a in (fit.saved, fit.contribution, fit.sim))
    return recommendation(window, profile, fit, i, False, False, nearest)


def named(fit: Fit, positions) -> np.ndarray:
    """(len(positions), ≤ MAX_NAMED) bool: which of these candidates' nearest saved papers their
    "Close to" line names (`recommendation`'s `closest`: those before the first without a
    positive contribution).  Column 0 says whether a candidate has the line at all."""
    at = np.asarray(positions, np.int64)
    s, c = fit.saved[at, :MAX_NAMED], fit.contribution[at, :MAX_NAMED]
    return np.cumprod((s >= 0) & (c > 0), axis=1).astype(bool)


def named_saved(profile: Profile, fit: Fit, positions) -> set[str]:
    """The saved papers the why-lines of these candidates of `fit` name."""
    at = np.asarray(positions, np.int64)
    return {profile.saved_ids[i] for i in fit.saved[at, :MAX_NAMED][named(fit, at)].tolist()}


def explain(rec: Recommendation, about: Mapping[str, tuple[str, Sequence[str] | None]] | None = None) -> Recommendation:
    """`rec` with the terms it shares with the saved papers it names, stored key terms first.

    `about` (saved arXiv id -> (title, stored key terms), `source.about`) gives the named papers'
    titles and key terms, which a profile read from the database does not hold; without it they
    come from the profile (`Profile.build(saved_titles=, saved_key_terms=)`).
    """
    closest = rec.closest
    named = [about.get(n.arxiv_id) or ("", None) for n in closest] if about is not None else []
    if about is not None:
        closest = [replace(n, title=title) for n, (title, _) in zip(closest, named, strict=True)]
    p, terms = rec.pending, rec.terms
    if p is not None:
        phrases = list(p.window.key_terms[p.row]) if p.window.key_terms else []
        if about is not None:
            phrases += [k for _, keys in named for k in keys or ()]
        elif p.profile.key_terms:
            phrases += [k for s in p.named for k in p.profile.key_terms[s]]
        terms = shared_terms_weighted(p.window.space, term_row(p.window.terms, p.row),
                                      [term_row(p.profile.terms, s) for s in p.named], p.weights, MAX_TERMS,
                                      prefer=key_term_forms(p.window.space, phrases))
    return replace(rec, closest=closest, terms=terms, pending=None)
