"""
arXiv categories as readers filter by them: the one rule every list, feed,
API and search applies (issue #15).

A filter names a category (`cs.CL`, `hep-th`, `cond-mat.str-el`) or an archive
prefix, which selects every category under it: the part before the `.`, and
each shorter part before a `-` of that.  So `cs` selects every `cs.*`; `hep`
selects `hep-th`, `hep-ph`, `hep-ex` and `hep-lat`; `math` selects `math.*` and
`math-ph`; `cond-mat` and `cond` select `cond-mat.*`.  Names compare without
regard to case.  `prefixes` lists what selects a category, `matches` asks
whether one filter value selects one, `parse` checks what a client sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MAX_FILTER = 10  # categories in one filter: a page or API call compares each card with each
MAX_CHARS = 40  # the longest arXiv category is 17 characters
# One name: letters in `-`-joined parts, then optionally `.` and more such parts
# ("cs", "cs.CL", "hep-th", "physics.acc-ph", "cond-mat.str-el").  Used verbatim
# in the OpenAPI schema, so a client knows exactly which values are accepted.
NAME = r"[A-Za-z]+(?:-[A-Za-z]+)*(?:\.[A-Za-z]+(?:-[A-Za-z]+)*)?"
PATTERN = f"^{NAME}$"
_NAME = re.compile(NAME)


class CategoryError(ValueError):
    """A filter value that is no category name, or too many of them."""


def prefixes(category: str) -> list[str]:
    """Every filter value that selects `category`, lower case: itself, its archive
    (before the `.`), and the archive's parts before each `-`, longest first."""
    name = category.strip().lower()
    if not name:
        return []
    out = [name]
    archive = name.split(".", 1)[0]
    while archive:
        if archive not in out:
            out.append(archive)
        archive = archive.rpartition("-")[0]
    return out


def matches(category: str, wanted: str) -> bool:
    """Whether the filter value `wanted` selects `category` (`hep` selects `hep-th`)."""
    return wanted.strip().lower() in prefixes(category)


def any_match(categories: Iterable[str], wanted: Sequence[str]) -> bool:
    """Whether a paper in `categories` is selected by any of `wanted` (all are, when empty)."""
    if not wanted:
        return True
    keys = {w.strip().lower() for w in wanted}
    return any(p in keys for c in categories or () for p in prefixes(c))


def valid(value: str) -> bool:
    return len(value) <= MAX_CHARS and _NAME.fullmatch(value) is not None


def parse(values: Iterable[str]) -> tuple[str, ...]:
    """The filter given as repeated parameters: distinct names (the first spelling
    kept), empty ones skipped; `CategoryError` names the first bad one, or says
    there are more than `MAX_FILTER`."""
    out: dict[str, str] = {}
    for name in values:
        if not name:
            continue
        if not valid(name):
            raise CategoryError(f"{name[:MAX_CHARS]!r} is not an arXiv category or archive (such as cs.CL or hep)")
        out.setdefault(name.lower(), name)
    if len(out) > MAX_FILTER:
        raise CategoryError(f"give at most {MAX_FILTER} categories (got {len(out)})")
    return tuple(out.values())
