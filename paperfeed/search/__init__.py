"""
Search: what the web pages, API, feeds and digest call to find papers.

    from paperfeed import search

    page = search.search(engine, 'state space models "selective scan" cat:cs.LG after:2023')
    page.total, [(h.arxiv_id, h.score, h.title_html) for h in page.hits]
    search.ids('state space models', after=date(2024, 1, 1))  # -> list[str], best first
    search.similar(engine, "2312.00752", limit=5)           # -> list[Hit]
    search.update_index(engine)                               # what `paperfeed index` runs

`search(db, query, mode="hybrid", limit=10, offset=0, category=None, after=None,
before=None)` takes an Engine, Connection or Session (used only to read the
papers shown), any string a user typed (syntax in `paperfeed.search.query`;
never raises on it) and returns a `SearchPage`:

- mode "keyword": BM25 (tantivy); "semantic": cosine to the query embedding;
  "hybrid" (default): both fused (`paperfeed.search.hybrid`).
- `category` (str or list, `cs` means all of `cs.*`, `hep` `hep-th`, `hep-ph`...), `after` (on or after)
  and `before` (strictly before) add to the filters in the query text; every
  filter, quoted phrase and exclusion applies in every mode, before the top-k
  cut.  A query with filters but no words lists matching papers newest first.
- `total` counts the hits one can page through: keyword mode counts every
  match, semantic and hybrid the fused candidates (at least `offset + limit`
  deep).  `offset`/`limit` page through them.
- each `Hit` carries the paper's fields from the database plus `title_html`
  and `abstract_html`: HTML-escaped text with `<mark>` around matched words
  (the abstract as a ~300-character snippet).

`ids(query, mode=..., limit=..., after=..., before=...)` ranks the same way but
returns only arXiv ids (no papers read, nothing highlighted): the digest's
saved searches.  `encode_queries(texts)` embeds many queries at once for the
searches that follow.

Errors: `IndexNotBuilt` before the first `paperfeed index`; `EncoderMismatch`
when the configured embedding model is not the one the index was built with
(semantic and hybrid modes; run `paperfeed index --rebuild`); `IndexBusy` when
another `paperfeed index` runs.

This module only names the API: the engine (numpy, tantivy, usearch, ONNX
Runtime) loads on first use of a function, so importing `paperfeed.search` is
free and works without the `search` extra; there, using a function raises
`ModuleNotFoundError` (an `ImportError`; `errors.missing_extra` words it).
The work is done in `pipeline` (query → hits → page), `indexer` (`paperfeed
index`), `store` (the index on disk), `keyword`, `vectors`, `hybrid`,
`neighbours`, `encoder` and `key_terms` (a paper's chips, which the indexer
stores in `papers.key_terms`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from paperfeed.search.errors import EncoderMismatch, IndexBusy, IndexNotBuilt
from paperfeed.search.results import MODES, Hit, SearchPage

if TYPE_CHECKING:  # for readers and type checkers; at run time __getattr__ loads them
    from paperfeed.search.indexer import IndexReport
    from paperfeed.search.indexer import update as update_index
    from paperfeed.search.pipeline import encode_queries, ids, search, similar

__all__ = [
    "EncoderMismatch",
    "Hit",
    "IndexBusy",
    "IndexNotBuilt",
    "IndexReport",
    "MODES",
    "SearchPage",
    "encode_queries",
    "ids",
    "search",
    "similar",
    "update_index",
]

# public name -> (module, attribute), imported on first access
_LAZY = {
    "search": ("pipeline", "search"),
    "similar": ("pipeline", "similar"),
    "ids": ("pipeline", "ids"),
    "encode_queries": ("pipeline", "encode_queries"),
    "update_index": ("indexer", "update"),
    "IndexReport": ("indexer", "IndexReport"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
