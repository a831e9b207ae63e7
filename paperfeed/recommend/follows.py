"""
Follow matching: which of a paper's authors and categories the reader follows.

Authors are compared by their folded full-name key, the rule the library
indexes and stores follows under (`paperfeed.names.author_key`: lower
case, accents dropped, punctuation as spaces, "Gu, Albert" = "Albert Gu").
A followed category
is an exact category (`cs.CL`) or an archive prefix (`cs` matches every `cs.*`, `hep` every
`hep-*`: the rule of `paperfeed.categories`).
"""

from __future__ import annotations

from collections.abc import Iterable

from paperfeed.categories import prefixes
from paperfeed.names import author_key

__all__ = ["author_key", "category_matches", "followed_authors", "normalise_categories"]


def normalise_categories(categories: Iterable[str]) -> frozenset[str]:
    """Followed categories and archives, stripped and lower-cased, empty ones dropped (`cs.cl`, `cs`, `hep`)."""
    return frozenset(c.strip().lower() for c in categories if c and c.strip())


def category_matches(paper_categories: Iterable[str], followed: frozenset[str]) -> list[str]:
    """The paper's categories the reader follows, directly or through their archive, in paper order."""
    if not followed:
        return []
    return [c for c in paper_categories if any(p in followed for p in prefixes(c))]


def followed_authors(paper_author_keys: Iterable[str], paper_authors: list[str], followed: frozenset[str]) -> list[str]:
    """The paper's authors (as written on it) whose key the reader follows."""
    if not followed:
        return []
    return [name for key, name in zip(paper_author_keys, paper_authors, strict=True) if key in followed]
