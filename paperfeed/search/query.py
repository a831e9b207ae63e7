"""
The search box's syntax, parsed into a structured query.

Users type free text plus a few operators:

    state space models "selective scan" author:gu cat:cs.LG after:2023-06 -diffusion

- words are ranked with BM25 (any word may match); `"quoted text"` is a phrase
  that must appear; an unclosed quote runs to the end of the query;
- `author:`/`au:` and `category:`/`cat:` filter (quote multi-word values:
  `author:"Albert Gu"`; an archive prefix selects every category under it, as
  everywhere on the site (`paperfeed.categories`): `cat:cs` matches every `cs.*`,
  `cat:hep` `hep-th`, `hep-ph`, `hep-ex` and `hep-lat`);
- `after:` and `before:` take `YYYY`, `YYYY-MM` or `YYYY-MM-DD`: `after:D` keeps
  papers published on or after the start of D, `before:D` those before it;
- a leading `-` excludes a word, phrase, author or category.

Anything else is text: `*`, `NEAR(`, `AND`, lone operators and unknown `field:`
prefixes are just words, most of which analyse to nothing.  `parse()` never
raises, whatever it is given; the engines only ever see the structured result,
built into query objects, never the raw string (issue "Hybrid search and
similar papers": any string a user can type returns results or nothing).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date

# A 10 kB paste is still a valid query; past this it only costs time.
MAX_QUERY_CHARS = 2_000
MAX_CLAUSES = 64

FIELD_ALIASES = {
    "author": "author",
    "au": "author",
    "by": "author",
    "category": "category",
    "cat": "category",
    "after": "after",
    "since": "after",
    "before": "before",
    "until": "before",
}

# optional "-", optional "field:", then a quoted run (closing quote optional) or a bare run
_CLAUSE = re.compile(r'(-?)(?:([A-Za-z]+):)?(?:"([^"]*)"?|([^\s"]+))')
_WORD = re.compile(r"\w")
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


@dataclass(frozen=True)
class ParsedQuery:
    """A query the engines can run; every list holds raw user text, not yet analysed."""

    terms: tuple[str, ...] = ()  # free words, any may match
    phrases: tuple[str, ...] = ()  # must appear as phrases
    excluded: tuple[str, ...] = ()  # words or phrases that must not appear
    authors: tuple[str, ...] = ()  # each must match an author name
    excluded_authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # any may match ("cs.LG" or an archive "cs")
    excluded_categories: tuple[str, ...] = ()
    after: date | None = None  # published on or after
    before: date | None = None  # published before
    text_parts: tuple[str, ...] = field(default=(), repr=False)  # words and phrases in order

    @property
    def text(self) -> str:
        """The free text, for the embedding model."""
        return " ".join(self.text_parts)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.authors
            or self.excluded_authors
            or self.categories
            or self.excluded_categories
            or self.after
            or self.before
            or self.excluded
        )

    def constraints(self) -> ParsedQuery:
        """Only what restricts the papers before ranking: phrases, authors, categories
        and dates (exclusions are checked on the candidates afterwards).  Hashable:
        the key under which an index keeps the set it allows."""
        return ParsedQuery(
            phrases=self.phrases, authors=self.authors, categories=self.categories,
            excluded_categories=self.excluded_categories, after=self.after, before=self.before,
        )

    def with_filters(
        self,
        category: str | list[str] | None = None,
        after: date | None = None,
        before: date | None = None,
    ) -> ParsedQuery:
        """This query narrowed by filters given outside the query text (API parameters)."""
        cats = self.categories
        if category:
            extra = [category] if isinstance(category, str) else list(category)
            cats = cats + tuple(c for c in extra if c)
        return replace(
            self,
            categories=cats,
            after=max(d for d in (self.after, after) if d) if (self.after or after) else None,
            before=min(d for d in (self.before, before) if d) if (self.before or before) else None,
        )


def clean(text: str) -> str:
    """NFKC-normalised text without control or format characters, length-capped."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = unicodedata.normalize("NFKC", text[: MAX_QUERY_CHARS * 2])[:MAX_QUERY_CHARS]
    # surrogates and control characters come from pastes and fuzzers; they are never words
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text
    )


def parse_date(value: str) -> date | None:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD` as the first day it covers; None when invalid."""
    m = _DATE.match(value.strip())
    if not m:
        return None
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        return date(year, month, day) if year >= 1 else None
    except ValueError:
        return None


def parse(text: str) -> ParsedQuery:
    """The structured form of whatever the user typed; never raises."""
    q: dict[str, list] = {
        k: []
        for k in (
            "terms",
            "phrases",
            "excluded",
            "authors",
            "excluded_authors",
            "categories",
            "excluded_categories",
            "text_parts",
        )
    }
    after: date | None = None
    before: date | None = None
    clauses = 0
    for m in _CLAUSE.finditer(clean(text)):
        if clauses >= MAX_CLAUSES:
            break
        negated, name, quoted, bare = m[1] == "-", m[2], m[3], m[4]
        value = (quoted if quoted is not None else bare or "").strip()
        kind = FIELD_ALIASES.get(name.lower()) if name else None
        if name and kind is None:  # "http://x" or "NEAR:": the whole thing is text
            value = f"{name}:{value}"
        if not value:
            continue
        clauses += 1
        if kind == "author":
            q["excluded_authors" if negated else "authors"].append(value)
        elif kind == "category":
            q["excluded_categories" if negated else "categories"].append(value)
        elif kind in ("after", "before"):
            when = parse_date(value)
            if when is None:  # "after:yesterday": keep the words rather than fail
                if _WORD.search(value):
                    q["terms"].append(value)
                    q["text_parts"].append(value)
            elif kind == "after":
                after = max(after, when) if after else when
            else:
                before = min(before, when) if before else when
        elif negated:
            q["excluded"].append(value)
        elif not _WORD.search(value):  # "*", "(", "&&": nothing to search for
            continue
        elif quoted is not None:
            q["phrases"].append(value)
            q["text_parts"].append(value)
        else:
            q["terms"].append(value)
            q["text_parts"].append(value)
    return ParsedQuery(**{k: tuple(v) for k, v in q.items()}, after=after, before=before)
