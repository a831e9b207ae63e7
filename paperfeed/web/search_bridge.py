"""
The web's bridge to `paperfeed.search`: what the search page, the API's search
and the search feeds ask (hybrid search, similar papers), as results and cards.

The search package returns highlighted snippets as HTML: the text escaped,
matches wrapped in `<mark>`.  `safe_snippet` re-checks that promise before the
page marks anything safe: every piece between `<mark>` tags is unescaped and
escaped again, so only `<mark>` and `</mark>` can ever reach the page as markup.

When the search package is not installed (an `ImportError`) or its index is
not built yet (`IndexNotBuilt`), a plain SQL substring search keeps the page
working, and the page says so.  Any other failure is a real error: logged and
answered 503 (`SearchUnavailable`), never hidden behind a full-table scan.
Results go `cards.MAX_DEPTH` deep, and every search counts against the
client's `rate_limit_search` (IPv6: its /64; `enforce_limit`).
"""

from __future__ import annotations

import html
import logging
import re
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from markupsafe import Markup, escape
from sqlalchemy import Engine, and_, func, or_, select, true

from paperfeed.models import Paper
from paperfeed.web import metrics, security
from paperfeed.web.cards import MAX_DEPTH, Card, listed_cards

log = logging.getLogger("paperfeed.web")
papers = Paper.__table__
_MARK = re.compile(r"(</?mark>)", re.IGNORECASE)
MODES = ("hybrid", "keyword", "semantic")


class SearchUnavailable(security.FriendlyError):
    """Search failed for a reason other than a missing index or extra (logged)."""

    def __init__(self) -> None:
        super().__init__(503, "Search is unavailable right now; the error has been logged. Please try again later.",
                         "Search is unavailable")


def enforce_limit(request) -> None:
    """Count one search by the request's client (IPv6: its /64, the key `paperfeed mcp` counts
    under too); `RateLimited` (429) past `rate_limit_search`."""
    security.enforce(request.app.state.engine, "search", security.client_bucket(request))


@dataclass
class Found:
    arxiv_id: str
    score: float | None = None
    snippet: Markup | None = None
    title_html: Markup | None = None


@dataclass
class Results:
    total: int
    found: list[Found] = field(default_factory=list)
    fallback: bool = False  # True: the plain substring search answered


def safe_snippet(fragment: str | None) -> Markup | None:
    """`fragment` with everything but <mark> tags escaped (idempotent on escaped text)."""
    if not fragment:
        return None
    out = []
    for piece in _MARK.split(fragment):
        if piece.lower() in ("<mark>", "</mark>"):
            out.append(piece.lower())
        else:
            out.append(str(escape(html.unescape(piece))))
    return Markup("".join(out))


def search(
    engine: Engine,
    query: str,
    mode: str = "hybrid",
    limit: int = 20,
    offset: int = 0,
    category: str | None = None,
    after: date | None = None,
    before: date | None = None,
) -> Results:
    """One page of results for `query`, best first; `before` is exclusive, as in
    `paperfeed.search`.  Only the first `MAX_DEPTH` results are paged through.
    Timed by mode and by what answered (`/metrics`)."""
    started = clock.perf_counter()
    limit = min(limit, MAX_DEPTH - offset)
    if limit <= 0:
        return Results(0)
    try:
        from paperfeed import search as engine_search
    except ImportError:  # installed without the `search` extra
        engine_search = None
    if engine_search is not None:
        args = {"limit": limit, "offset": offset, "category": category, "after": after, "before": before}
        try:
            page = _ranked(engine_search, engine, query, mode, args)
        except (engine_search.IndexNotBuilt, ImportError) as exc:  # not indexed yet, or the extra is missing
            log.info("using the substring fallback: %s", exc)
        except Exception:
            log.exception("search failed for %r (mode %s)", query[:200], mode)
            metrics.observe_search(mode, "error", clock.perf_counter() - started)
            raise SearchUnavailable() from None
        else:
            found = [
                Found(h.arxiv_id, h.score, safe_snippet(h.abstract_html), safe_snippet(h.title_html))
                for h in page.hits
            ]
            metrics.observe_search(mode, "index", clock.perf_counter() - started)
            return Results(int(page.total), found)
    results = _substring_search(engine, query, limit, offset, category, after, before)
    metrics.observe_search(mode, "fallback", clock.perf_counter() - started)
    return results


def _ranked(engine_search, engine: Engine, query: str, mode: str, args: dict):
    """The search package's page; keyword ranking alone while the vectors are
    another model's (until `paperfeed index --rebuild` ends): words still rank."""
    try:
        return engine_search.search(engine, query, mode=mode, **args)
    except engine_search.EncoderMismatch:
        if mode == "keyword":
            raise
        log.warning("search index and encoder disagree; answering with keyword search", exc_info=True)
        return engine_search.search(engine, query, mode="keyword", **args)


def search_cards(engine: Engine, query: str, limit: int, category: str | None = None) -> list[Card]:
    """Papers matching `query`, best first, as the search page finds them, each with
    the daily list it came from (the API's search and the search feeds)."""
    results = search(engine, query, limit=limit, category=category)
    return listed_cards(engine, [found.arxiv_id for found in results.found])


def similar(engine: Engine, arxiv_id: str, limit: int = 6) -> list[str]:
    """Ids of papers similar to `arxiv_id` (empty when the search package cannot tell)."""
    started = clock.perf_counter()
    try:
        from paperfeed import search as engine_search

        hits = engine_search.similar(engine, arxiv_id, limit=limit)
        metrics.observe_search("similar", "index", clock.perf_counter() - started)
        return [h.arxiv_id for h in hits if h.arxiv_id != arxiv_id][:limit]
    except Exception as e:  # the paper page still shows; the log tells real failures from a missing index
        expected = isinstance(e, ImportError) or type(e).__name__ == "IndexNotBuilt"
        log.log(logging.INFO if expected else logging.ERROR, "similar papers unavailable for %s", arxiv_id, exc_info=True)
        return []


def _highlight(text: str, words: list[str], width: int = 240) -> Markup:
    """An excerpt of `text` around the first match, matches in <mark>, the rest escaped."""
    lower = text.lower()
    hits = [lower.find(w.lower()) for w in words]
    first = min((h for h in hits if h >= 0), default=0)
    start = max(first - width // 3, 0)
    excerpt = text[start : start + width]
    pattern = re.compile("|".join(re.escape(w) for w in words if w), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(excerpt) if words else ():
        out.append(str(escape(excerpt[last : m.start()])))
        out.append(f"<mark>{escape(m.group())}</mark>")
        last = m.end()
    out.append(str(escape(excerpt[last:])))
    prefix = "… " if start else ""
    suffix = " …" if start + width < len(text) else ""
    return Markup(prefix + "".join(out) + suffix)


def _substring_search(engine, query, limit, offset, category, after, before) -> Results:
    words = [w for w in re.findall(r"\w[\w.-]*", query)][:8]
    conds = []
    for w in words:
        like = f"%{w.lower()}%"
        conds.append(or_(func.lower(papers.c.title).like(like), func.lower(papers.c.abstract).like(like)))
    if category:
        # the rule of `paperfeed.categories`: `hep` selects hep-th, `math` math.* and math-ph
        name, primary = category.strip().lower(), func.lower(papers.c.primary_category)
        conds.append(or_(primary == name, primary.like(f"{name}.%"), primary.like(f"{name}-%")))
    if after:
        conds.append(papers.c.published >= datetime.combine(after, time(), tzinfo=UTC))
    if before:
        conds.append(papers.c.published < datetime.combine(before, time(), tzinfo=UTC))
    where = and_(*conds) if conds else true()
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(papers).where(where)).scalar_one()
        rows = conn.execute(
            select(papers.c.arxiv_id, papers.c.abstract)
            .where(where)
            .order_by(papers.c.published.desc(), papers.c.arxiv_id)
            .offset(offset)
            .limit(limit)
        ).all()
    found = [Found(r.arxiv_id, None, _highlight(r.abstract or "", words)) for r in rows]
    return Results(total, found, fallback=True)
