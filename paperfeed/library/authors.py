"""
An author's page: their papers newest first, frequent co-authors, categories,
and the keys that may be the same person.

Authors are known by `names.author_key` (their full name, folded): namesakes
with the same full name are merged, and "A. Gu" is another key than "Albert
Gu".  Keys with the same surname and first initial are listed as "maybe the
same person".  Everything comes from the `paper_authors` index (one indexed
range per query); co-authors and categories are counted over the author's
newest `SAMPLE` papers, so the page costs the same for a prolific author.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import distinct, func, select

from paperfeed.models import Paper, PaperAuthor
from paperfeed.names import author_key, short_key

index = PaperAuthor.__table__
papers = Paper.__table__
MAX_LIMIT = 200
SAMPLE = 500  # newest papers that co-authors and categories are counted over
MAX_RELATED = 20


@dataclass
class AuthorPaper:
    arxiv_id: str
    title: str | None
    authors: list[str]
    primary_category: str | None
    published: datetime | None


@dataclass
class Namesake:
    key: str
    name: str  # as written on their newest paper
    papers: int


@dataclass
class AuthorPage:
    key: str
    name: str  # the spelling on their newest paper
    spellings: list[str]  # every spelling of the key seen on the papers shown
    total: int
    papers: list[AuthorPaper]
    coauthors: list[Namesake] = field(default_factory=list)  # papers = papers shared
    categories: list[tuple[str, int]] = field(default_factory=list)
    maybe_same: list[Namesake] = field(default_factory=list)


def _of(key: str):
    # (short, key) is the index's order: the short key is a function of the key
    return (index.c.short == short_key(key)) & (index.c.key == key)


def author_page(conn, name_or_key: str, limit: int = 50, offset: int = 0) -> AuthorPage | None:
    """The page of an author (a name or a key: both fold to the key); None when no paper has them."""
    key = author_key(name_or_key)
    if not key:
        return None
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    total = conn.execute(select(func.count(distinct(index.c.arxiv_id))).where(_of(key))).scalar_one()
    if total == 0:
        return None
    newest = (
        select(papers.c.arxiv_id, papers.c.title, papers.c.authors, papers.c.primary_category,
               papers.c.categories, papers.c.published, index.c.position)
        .join(index, index.c.arxiv_id == papers.c.arxiv_id)
        .where(_of(key))
        .order_by(papers.c.published.desc().nulls_last(), papers.c.arxiv_id.desc())
    )
    sample = conn.execute(newest.limit(SAMPLE)).all()
    shown = sample[offset : offset + limit] if offset + limit <= SAMPLE else conn.execute(newest.limit(limit).offset(offset)).all()
    seen: set[str] = set()
    page_papers, spellings = [], []
    for r in shown:
        if r.arxiv_id in seen:  # the same name twice on one paper
            continue
        seen.add(r.arxiv_id)
        page_papers.append(AuthorPaper(r.arxiv_id, r.title, list(r.authors or []), r.primary_category, r.published))
    for r in sample:
        authors = r.authors or []
        if r.position < len(authors) and authors[r.position] not in spellings:
            spellings.append(authors[r.position])
    return AuthorPage(
        key=key,
        name=spellings[0] if spellings else name_or_key,
        spellings=spellings,
        total=total,
        papers=page_papers,
        coauthors=_coauthors(key, sample),
        categories=_categories(sample),
        maybe_same=maybe_same(conn, key),
    )


def _coauthors(key: str, sample) -> list[Namesake]:
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    done: set[str] = set()
    for r in sample:
        if r.arxiv_id in done:
            continue
        done.add(r.arxiv_id)
        keys = {}
        for name in r.authors or []:
            k = author_key(name)
            if k and k != key:
                keys.setdefault(k, name)
        for k, name in keys.items():
            counts[k] += 1
            names.setdefault(k, name)  # the sample is newest first
    return [Namesake(k, names[k], n) for k, n in counts.most_common(MAX_RELATED)]


def _categories(sample) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    done: set[str] = set()
    for r in sample:
        if r.arxiv_id not in done:
            done.add(r.arxiv_id)
            counts.update(set(r.categories or []) or ({r.primary_category} - {None}))
    return counts.most_common(MAX_RELATED)


def maybe_same(conn, key: str) -> list[Namesake]:
    """Other keys with the same surname and first initial ("albert gu" → "a gu"), most papers first."""
    rows = conn.execute(
        select(index.c.key, func.count(distinct(index.c.arxiv_id)).label("n"))
        .where(index.c.short == short_key(key), index.c.key != key)
        .group_by(index.c.key)
        .order_by(func.count(distinct(index.c.arxiv_id)).desc(), index.c.key)
        .limit(MAX_RELATED)
    ).all()
    out = []
    for other, n in rows:
        spelled = conn.execute(
            select(papers.c.authors, index.c.position).join(index, index.c.arxiv_id == papers.c.arxiv_id)
            .where(_of(other)).order_by(papers.c.published.desc().nulls_last()).limit(1)
        ).first()
        name = other
        if spelled is not None and spelled.position < len(spelled.authors or []):
            name = spelled.authors[spelled.position]
        out.append(Namesake(other, name, n))
    return out
