"""
What a search returns: one page of hits, each a paper with highlighted text.

Plain dataclasses with no heavy imports, so pages and templates can name them
without loading the search engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

MODES = ("hybrid", "keyword", "semantic")
MAX_LIMIT = 1_000


@dataclass
class Hit:
    arxiv_id: str
    score: float
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    primary_category: str | None
    published: datetime | None
    title_html: str  # escaped, <mark>ed
    abstract_html: str  # escaped, <mark>ed snippet


@dataclass
class SearchPage:
    query: str
    mode: str
    total: int
    offset: int
    limit: int
    hits: list[Hit] = field(default_factory=list)
