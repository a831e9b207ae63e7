"""
The keyword index: BM25 over title, abstract and authors, kept in tantivy.

Chosen over SQLite FTS5 by measurement on BEIR SciFact test (5,183 abstracts,
300 queries, 2 CPU cores; `benchmarks/beir_eval.py --compare-engines`): FTS5
with porter stemming and weighted bm25() reached nDCG@10 0.689 at about 9 ms a
query, because its OR queries visit every posting; tantivy with the fields
below reached 0.692 at under 0.5 ms, thanks to block-max WAND (Ding & Suel
2011), and adds snippets and phrase queries over positions.

Fields: `text` (title and abstract together, the main BM25 field, as in BEIR's
BM25 runs), `title` (a small extra boost), `authors` (names, no stemming),
`categories` (exact, lowercased, plus the archive prefixes: `cs.lg` and `cs`;
`hep-th` and `hep`),
`published` (date), and `key`, the integer that ties a document to its vector
and catalogue row.  Text is lowercased, English stop words are dropped and
words are Snowball-stemmed, at index and query time alike.  Queries are built
from `ParsedQuery` with tantivy's query objects; user text never reaches a
query parser.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import numpy as np
import tantivy
from tantivy import Occur, Query

from paperfeed.categories import prefixes
from paperfeed.search.query import ParsedQuery

# Extra weight of a match in these fields on top of `text` (BM25 per field,
# summed).  Tuned on SciFact *train*: title 0.2 gave nDCG@10 0.701 against
# 0.696 for `text` alone (0.5: 0.692).  Authors are absent from SciFact; 0.5
# lets a name typed as plain text rank its papers without swamping the topic.
TITLE_BOOST = 0.2
AUTHOR_BOOST = 0.5
MAX_TOKEN_CHARS = 40  # longer "words" are base64, URLs or hashes: never useful terms
MAX_QUERY_TOKENS = 64
SNIPPET_CHARS = 300
WRITER_HEAP = 256_000_000


def _analyzers() -> dict[str, tantivy.TextAnalyzer]:
    simple = tantivy.Tokenizer.simple
    f = tantivy.Filter
    return {
        "pf_text": tantivy.TextAnalyzerBuilder(simple())
        .filter(f.remove_long(MAX_TOKEN_CHARS))
        .filter(f.lowercase())
        .filter(f.stopword("english"))
        .filter(f.stemmer("english"))
        .build(),
        "pf_name": tantivy.TextAnalyzerBuilder(simple())
        .filter(f.remove_long(MAX_TOKEN_CHARS))
        .filter(f.ascii_fold())
        .filter(f.lowercase())
        .build(),
        "pf_tag": tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(f.lowercase()).build(),
    }


ANALYZERS = _analyzers()


def schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("key", indexed=True, fast=True)
    sb.add_text_field("arxiv_id", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("text", tokenizer_name="pf_text")
    sb.add_text_field("title", tokenizer_name="pf_text")
    sb.add_text_field("authors", tokenizer_name="pf_name")
    sb.add_text_field("categories", tokenizer_name="pf_tag", index_option="basic")
    sb.add_date_field("published", indexed=True, fast=True)
    return sb.build()


def open_index(path: Path) -> tantivy.Index:
    """The tantivy index in `path` (created when empty), with our analysers registered."""
    path.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema(), path=str(path), reuse=True)
    for name, analyzer in ANALYZERS.items():
        index.register_tokenizer(name, analyzer)
    return index


def category_terms(categories: list[str]) -> list[str]:
    """Each category and the archive prefixes that select it (`paperfeed.categories`:
    `cs.LG` -> `cs.lg`, `cs`; `hep-th` -> `hep-th`, `hep`), so `cat:cs` matches all of cs."""
    out: list[str] = []
    for cat in categories or []:
        for term in prefixes(cat):
            if term not in out:
                out.append(term)
    return out


def document(
    key: int,
    arxiv_id: str,
    title: str | None,
    abstract: str,
    authors: list[str],
    categories: list[str],
    published: datetime | None,
) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_unsigned("key", key)
    doc.add_text("arxiv_id", arxiv_id)
    doc.add_text("text", f"{title or ''}\n{abstract or ''}")
    doc.add_text("title", title or "")
    for name in authors or []:
        doc.add_text("authors", name)
    for term in category_terms(categories):
        doc.add_text("categories", term)
    if published is not None:
        doc.add_date("published", published if published.tzinfo else published.replace(tzinfo=UTC))
    return doc


def _tokens(text: str, analyzer: str = "pf_text") -> list[tuple[int, str]]:
    """(position, term) pairs; positions keep the gaps where stop words were."""
    return [(t.position, t.text) for t in ANALYZERS[analyzer].pre_tokenize(text).tokens]


def word_frequency(index: tantivy.Index) -> tuple[Callable[[str], int], int]:
    """(the number of documents of `index` whose text holds a word, as analysed for
    `text`: the rarest of its terms for "state-space"; the number of documents).
    What `key_terms` weighs candidates by; each word is looked up once."""
    searcher = index.searcher()
    known: dict[str, int] = {}

    def frequency(word: str) -> int:
        if word not in known:
            known[word] = min((searcher.doc_freq("text", t) for _, t in _tokens(word)), default=0)
        return known[word]

    return frequency, searcher.num_docs


def _match(sch: tantivy.Schema, field: str, toks: list[tuple[int, str]]) -> Query | None:
    if not toks:
        return None
    if len(toks) == 1:
        return Query.term_query(sch, field, toks[0][1])
    start = toks[0][0]
    return Query.phrase_query(sch, field, [(pos - start, term) for pos, term in toks])


def _any(clauses: list[Query | None]) -> Query | None:
    clauses = [c for c in clauses if c is not None]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else Query.boolean_query([(Occur.Should, c) for c in clauses])


_EARLIEST, _LATEST = date(1678, 1, 1), date(2262, 1, 1)


def _at(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def filter_clauses(sch: tantivy.Schema, q: ParsedQuery) -> tuple[list[Query], list[Query]]:
    """(must, must_not) queries for the query's authors, categories, dates and exclusions."""
    must: list[Query] = []
    must_not: list[Query] = []
    for name in q.authors:
        clause = _match(sch, "authors", _tokens(name, "pf_name"))
        must.append(clause if clause is not None else Query.empty_query())
    for name in q.excluded_authors:
        if (clause := _match(sch, "authors", _tokens(name, "pf_name"))) is not None:
            must_not.append(clause)
    cats = [c.strip().lower() for c in q.categories if c.strip()]
    if cats:
        must.append(Query.term_set_query(sch, "categories", cats))
    for cat in q.excluded_categories:
        if cat.strip():
            must_not.append(Query.term_query(sch, "categories", cat.strip().lower()))
    # tantivy dates are nanoseconds in an i64: 1677..2262; beyond, a bound means "no bound"
    after = q.after if q.after and q.after > _EARLIEST else None
    before = q.before if q.before and q.before < _LATEST else None
    if (q.after and q.after >= _LATEST) or (q.before and q.before <= _EARLIEST) or (
        after and before and after >= before
    ):
        must.append(Query.empty_query())
    elif after or before:
        must.append(
            Query.range_query(
                sch, "published", tantivy.FieldType.Date,
                lower_bound=_at(after) if after else None,
                upper_bound=_at(before) if before else None,
                include_upper=before is None,
            )
        )
    for text in q.excluded:
        if (clause := _match(sch, "text", _tokens(text))) is not None:
            must_not.append(clause)
    return must, must_not


def text_clauses(sch: tantivy.Schema, q: ParsedQuery) -> tuple[Query | None, list[Query]]:
    """(any-of free words, required phrases), each scored with the field boosts."""
    words: list[Query] = []
    seen: set[tuple[str, str]] = set()
    for raw in q.terms:
        for field, analyzer, boost in (
            ("text", "pf_text", 1.0),
            ("title", "pf_text", TITLE_BOOST),
            ("authors", "pf_name", AUTHOR_BOOST),
        ):
            for _, term in _tokens(raw, analyzer):
                if (field, term) in seen or len(seen) >= MAX_QUERY_TOKENS * 3:
                    continue
                seen.add((field, term))
                tq = Query.term_query(sch, field, term)
                words.append(tq if boost == 1.0 else Query.boost_query(tq, boost))
    phrases: list[Query] = []
    for raw in q.phrases[:MAX_QUERY_TOKENS]:
        toks = _tokens(raw)[:MAX_QUERY_TOKENS]
        if toks:
            title = Query.boost_query(_match(sch, "title", toks), TITLE_BOOST)
            phrases.append(_any([_match(sch, "text", toks), title]))
    return _any(words), phrases


def build(sch: tantivy.Schema, q: ParsedQuery) -> tuple[Query | None, bool]:
    """The tantivy query for `q` and whether it ranks by text (False: filters only).

    None when the query asks for nothing at all (empty, or only stop words).
    """
    words, phrases = text_clauses(sch, q)
    must, must_not = filter_clauses(sch, q)
    scored = [c for c in [words, *phrases] if c is not None]
    if not scored and not must and not must_not:
        return None, False
    clauses = [(Occur.Must, c) for c in scored]
    # Filters narrow but must not add BM25 mass of their own (a category term is rare
    # in some archives and common in others); a zero constant score keeps ranks textual.
    clauses += [(Occur.Must, Query.const_score_query(c, 0.0)) for c in must]
    clauses += [(Occur.MustNot, c) for c in must_not]
    if not scored and not must:
        clauses.append((Occur.Must, Query.all_query()))
    return Query.boolean_query(clauses), bool(scored)


@dataclass
class KeywordHits:
    total: int
    keys: np.ndarray  # uint64, best first
    scores: np.ndarray  # float32; 0 for filter-only queries (newest first)


def search(
    index: tantivy.Index,
    q: ParsedQuery,
    limit: int,
    offset: int = 0,
    count: bool = False,
) -> KeywordHits:
    """The best `limit` documents after `offset`; `total` is exact only with `count`."""
    query, ranked = build(index.schema, q)
    if query is None or limit <= 0:
        return KeywordHits(0, np.empty(0, np.uint64), np.empty(0, np.float32))
    searcher = index.searcher()
    if ranked:
        result = searcher.search(query, limit, count=count, offset=offset)
        scores = np.array([s for s, _ in result.hits], np.float32)
    else:  # no words, only filters: newest first
        result = searcher.search(
            query, limit, count=count, offset=offset, order_by_field="published", order=tantivy.Order.Desc
        )
        scores = np.zeros(len(result.hits), np.float32)
    keys = np.array(searcher.fast_field_values("key", [a for _, a in result.hits]), np.uint64)
    total = result.count if count and result.count is not None else offset + len(keys)
    return KeywordHits(total, keys, scores)


def matching_keys(index: tantivy.Index, query: Query, cap: int) -> np.ndarray:
    """Keys of up to `cap` documents matching `query` (used to filter vector hits)."""
    searcher = index.searcher()
    cap = max(1, min(cap, searcher.num_docs))  # the collector sizes itself by its limit
    result = searcher.search(Query.const_score_query(query, 1.0), cap, count=False)
    return np.array(searcher.fast_field_values("key", [a for _, a in result.hits]), np.uint64)


class Highlighter:
    """HTML-escaped title and abstract with `<mark>` around the words the query matched."""

    def __init__(self, index: tantivy.Index, q: ParsedQuery) -> None:
        sch = index.schema
        terms = {t for raw in (*q.terms, *q.phrases) for _, t in _tokens(raw)}
        self.generators: dict[str, tantivy.SnippetGenerator] = {}
        if not terms:
            return
        searcher = index.searcher()
        for field, chars in (("title", 100_000), ("text", SNIPPET_CHARS)):
            query = _any([Query.term_query(sch, field, t) for t in sorted(terms)])
            gen = tantivy.SnippetGenerator.create(searcher, query, sch, field)
            gen.set_max_num_chars(chars)
            self.generators[field] = gen

    def title(self, title: str | None) -> str:
        return self._html("title", title or "", full=True)

    def abstract(self, abstract: str | None) -> str:
        return self._html("text", abstract or "", full=False)

    def _html(self, field: str, text: str, full: bool) -> str:
        text = " ".join(text.split())  # what tantivy measures its byte offsets in
        gen = self.generators.get(field)
        snippet = gen.snippet_from_doc(tantivy.Document(**{field: text})) if gen else None
        marks = snippet.highlighted() if snippet is not None else []
        if not marks:
            if full or len(text) <= SNIPPET_CHARS:
                return html.escape(text)
            return html.escape(text[:SNIPPET_CHARS].rsplit(" ", 1)[0]) + " …"
        raw = text.encode()
        frag = snippet.fragment_range()
        start, end = (0, len(raw)) if full else (frag.start, frag.end)
        out, pos = [], start
        for m in marks:  # offsets are UTF-8 bytes within the fragment
            a, b = frag.start + m.start, frag.start + m.end
            out.append(html.escape(raw[pos:a].decode(errors="replace")))
            out.append(f"<mark>{html.escape(raw[a:b].decode(errors='replace'))}</mark>")
            pos = b
        out.append(html.escape(raw[pos:end].decode(errors="replace")))
        return ("… " if start > 0 else "") + "".join(out) + (" …" if end < len(raw) else "")
