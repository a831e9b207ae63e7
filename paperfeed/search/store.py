"""
Where the search indexes live on disk, and how a server opens them.

    <data_dir>/index/
        CURRENT          name of the generation being served ("gen-000007")
        lock             held by the indexer while it runs
        building/        the next generation, while `paperfeed index` builds it
        gen-000007/      a finished generation; never modified after the switch
            meta.json        model_id, dim, dtype, revision cursor, counts
            keyword/         tantivy index (keyword.py)
            vectors.usearch  usearch index (vectors.py)
            catalog.sqlite   key <-> arXiv id, published day, categories
            vectors.npy, vector_scales.npy
                             every vector, int8 per-row scaled, by key (vectors.Matrix)
            published.npy, cat_rows.npy, cat_ptr.npy, categories.json
                             the filter columns as arrays, memory-mapped
            terms/           the tf-idf term space and every paper's row (term_rows.py)

A generation is built beside the served one and switched to by renaming
CURRENT's replacement over it, so readers only ever open a complete index
(design.md: indexes are derived data, rebuildable from the database).  Readers
check CURRENT on every query (one small read) and reopen when it changes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np
import tantivy

from paperfeed import categories, settings
from paperfeed.search import keyword, vectors
from paperfeed.search.errors import IndexNotBuilt
from paperfeed.search.query import ParsedQuery

MISSING_DAY = np.iinfo(np.int32).min
EPOCH = date(1970, 1, 1)
# Papers fetched from tantivy to filter vector hits by author or excluded words.
FILTER_CAP = 2_000_000
# Filter results kept per process, and how many allowed papers may keep their
# vectors as float32 rows (a week of arXiv is ~20,000 papers: 30 MB at 384-d).
FILTERS_KEPT = 16
ROWS_LIMIT = 40_000
ROWS_BYTES = 160_000_000


@dataclass
class Allowed:
    """Papers a query's filters allow: a mask by key, the keys, and maybe their vectors."""

    mask: np.ndarray
    keys: np.ndarray
    rows: np.ndarray | None = None  # float32 vectors of `keys`, when few enough

    @property
    def nbytes(self) -> int:
        return self.mask.nbytes + self.keys.nbytes + (self.rows.nbytes if self.rows is not None else 0)

BULK_KEYS = 20_000  # ids from which `Generation.keys_of` reads the whole catalogue into memory

CATALOG_SCHEMA = """
create table if not exists docs (
    key integer primary key,          -- the usearch and tantivy key
    arxiv_id text not null unique,
    published integer,                -- days since 1970-01-01
    categories text not null default '[]'
);
"""


def index_root(index_dir: Path | str | None = None) -> Path:
    return Path(index_dir) if index_dir else settings.data_dir() / "index"


def current_name(root: Path) -> str | None:
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return name if name and (root / name / "meta.json").exists() else None


def day_number(day: date | None) -> int:
    return (day - EPOCH).days if day else int(MISSING_DAY)


def open_catalog(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        # immutable: a finished generation never changes, so skip locking entirely
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.executescript(CATALOG_SCHEMA)
    return conn


def write_filter_arrays(folder: Path, conn: sqlite3.Connection) -> None:
    """The catalogue's filter columns as arrays indexed by key, for numpy filtering."""
    size = (conn.execute("select max(key) from docs").fetchone()[0] or 0) + 1
    published = np.full(size, MISSING_DAY, np.int32)
    vocab: dict[str, int] = {}
    rows: list[int] = []
    ids: list[int] = []
    for key, day, cats in conn.execute("select key, published, categories from docs"):
        if day is not None:
            published[key] = day
        for term in keyword.category_terms(json.loads(cats)):
            rows.append(key)
            ids.append(vocab.setdefault(term, len(vocab)))
    np.save(folder / "published.npy", published)
    # rows grouped by category (CSR): a category's papers are one contiguous slice
    rows_a, ids_a = np.array(rows, np.int32), np.array(ids, np.int32)
    order = np.argsort(ids_a, kind="stable")
    np.save(folder / "cat_rows.npy", rows_a[order])
    np.save(folder / "cat_ptr.npy", np.searchsorted(ids_a[order], np.arange(len(vocab) + 1)).astype(np.int64))
    (folder / "categories.json").write_text(json.dumps(vocab))


@dataclass
class Meta:
    generation: int
    model_id: str
    dim: int
    dtype: str
    revision: int  # every paper with revision <= this is in the index
    count: int
    # the encoder of the For-you matrix (`foryou_vectors.npy`), None: For you reads the search vectors
    foryou_model_id: str | None = None

    @classmethod
    def read(cls, folder: Path) -> Meta:
        data = json.loads((folder / "meta.json").read_text())
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def write(self, folder: Path) -> None:
        tmp = folder / "meta.json.tmp"
        tmp.write_text(json.dumps(self.__dict__, indent=1))
        os.replace(tmp, folder / "meta.json")


class Generation:
    """One finished generation, opened read-only; safe to share between threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = Meta.read(folder)
        self._local = threading.local()
        self._filters: OrderedDict[tuple, Allowed] = OrderedDict()
        self._filters_lock = threading.Lock()

    @property
    def id(self) -> str:
        return f"{self.folder.name}:{self.meta.model_id}"

    @cached_property
    def keyword(self) -> tantivy.Index:
        return keyword.open_index(self.folder / "keyword")

    @cached_property
    def vectors(self):
        return vectors.load(self.folder / "vectors.usearch", self.meta.dim, self.meta.dtype, view=True)

    @cached_property
    def published(self) -> np.ndarray:
        return np.load(self.folder / "published.npy", mmap_mode="r")

    @cached_property
    def matrix(self) -> vectors.Matrix | None:
        return vectors.Matrix.open(self.folder)

    @cached_property
    def term_rows(self):
        """The generation's `term_rows.TermRows`, or None (built before they were kept)."""
        from paperfeed.search import term_rows

        return term_rows.TermRows.open(self.folder)

    @cached_property
    def foryou_matrix(self) -> vectors.Matrix | None:
        """The For-you vectors (a shorter embedding of each paper, every one by the same encoder),
        or None: use `matrix`."""
        return vectors.Matrix.open(self.folder, vectors.Matrix.FORYOU) if self.meta.foryou_model_id else None

    @cached_property
    def _categories(self) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        return (
            np.load(self.folder / "cat_rows.npy", mmap_mode="r"),
            np.load(self.folder / "cat_ptr.npy", mmap_mode="r"),
            json.loads((self.folder / "categories.json").read_text()),
        )

    @property
    def catalog(self) -> sqlite3.Connection:
        conn = getattr(self._local, "catalog", None)
        if conn is None:
            conn = self._local.catalog = open_catalog(self.folder / "catalog.sqlite", readonly=True)
        return conn

    def arxiv_ids(self, keys: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(keys), 500):
            part = [int(k) for k in keys[start : start + 500]]
            marks = ",".join("?" * len(part))
            out.update(self.catalog.execute(f"select key, arxiv_id from docs where key in ({marks})", part))
        return out

    def key_of(self, arxiv_id: str) -> int | None:
        return self.keys_of([arxiv_id]).get(arxiv_id)

    def keys_of(self, arxiv_ids: list[str]) -> dict[str, int]:
        """The index keys of those of `arxiv_ids` this generation holds: 500 per catalogue query,
        or, for `BULK_KEYS` ids or more (a digest batch's libraries), from `_key_table`."""
        if len(arxiv_ids) >= BULK_KEYS or "_key_table" in self.__dict__:
            return self._bulk_keys_of(arxiv_ids)
        keys: dict[str, int] = {}
        for start in range(0, len(arxiv_ids), 500):
            part = arxiv_ids[start : start + 500]
            marks = ",".join("?" * len(part))
            keys.update(self.catalog.execute(f"select arxiv_id, key from docs where arxiv_id in ({marks})", part))
        return keys

    @cached_property
    def _key_table(self) -> dict[str, int]:
        """Every arXiv id's key: the catalogue in memory, read once (~1.5 s and ~130 MB for
        1,000,000 papers), for lookups of many ids at once."""
        return dict(self.catalog.execute("select arxiv_id, key from docs"))

    def key_array(self, arxiv_ids: list[str]) -> np.ndarray:
        """int64 index key of each of `arxiv_ids`, in order, -1 where this generation holds none
        (an id may repeat, and repeats count towards `BULK_KEYS`): `keys_of` without the dict,
        for a digest batch's libraries."""
        if len(arxiv_ids) >= BULK_KEYS or "_key_table" in self.__dict__:
            table = self._key_table
        else:
            table = self.keys_of(list(dict.fromkeys(arxiv_ids)))
        return np.fromiter((table.get(a, -1) for a in arxiv_ids), np.int64, len(arxiv_ids))

    def _bulk_keys_of(self, arxiv_ids: list[str]) -> dict[str, int]:
        """`keys_of` from `_key_table`: 260,000 ids in ~0.05 s where the catalogue queries take
        ~1.4 s (a digest batch's libraries at 1,000,000 papers)."""
        table = self._key_table
        return {a: table[a] for a in arxiv_ids if a in table}

    def with_archives(self, q: ParsedQuery) -> ParsedQuery:
        """`q` with each category it names spelled out as the indexed categories that
        name selects (`hep` -> `hep-th`, `hep-ph`, ...; `paperfeed.categories`), so an
        index built before archive prefixes covered `-` children answers `cat:hep` too.
        A name that selects nothing stays as it is (and matches nothing)."""
        if not (q.categories or q.excluded_categories):
            return q
        names = self._categories[2]

        def spelled(wanted: tuple[str, ...]) -> tuple[str, ...]:
            out: list[str] = []
            for w in wanted:
                found = [n for n in names if categories.matches(n, w)] or [w]
                out += [n for n in found if n not in out]
            return tuple(out)

        return replace(q, categories=spelled(q.categories), excluded_categories=spelled(q.excluded_categories))

    def _category_mask(self, cats: tuple[str, ...], size: int) -> np.ndarray:
        rows, ptr, vocab = self._categories
        mask = np.zeros(size, bool)
        for cat in cats:
            if (i := vocab.get(cat.strip().lower())) is not None:
                mask[rows[ptr[i] : ptr[i + 1]]] = True
        return mask

    def allowed(self, q: ParsedQuery) -> Allowed | None:
        """The papers the query's constraints allow (None when all are), kept for reuse.

        Every saved search of a digest run shares one date window, and readers
        repeat filters, so the last few sets are kept with, when small, their
        vectors as float32 rows: scoring a window is then one matrix product.
        """
        key = q.constraints()  # _mask sees only these, so the key covers all it reads
        if key == ParsedQuery():
            return None
        with self._filters_lock:
            if (found := self._filters.get(key)) is not None:
                self._filters.move_to_end(key)
                return found
        mask = self._mask(key)
        found = Allowed(mask, np.flatnonzero(mask).astype(np.uint64))
        matrix = self.matrix
        if matrix is not None and len(found.keys) <= ROWS_LIMIT:
            found.rows = matrix.get(found.keys[found.keys < len(matrix)])
        with self._filters_lock:
            self._filters[key] = found
            while len(self._filters) > 1 and (
                len(self._filters) > FILTERS_KEPT or sum(a.nbytes for a in self._filters.values()) > ROWS_BYTES
            ):
                self._filters.popitem(last=False)
        return found

    def _mask(self, q: ParsedQuery) -> np.ndarray:
        """Boolean mask by key of papers the query's constraints allow.

        Categories and dates come from the arrays, authors and phrases from
        tantivy (they are selective); exclusions are checked on the candidates
        afterwards (`rejected`), since "-cells" can match half the corpus.
        """
        size = len(self.published)
        mask = np.ones(size, bool)

        def narrow(m: np.ndarray) -> None:
            np.logical_and(mask, m, out=mask)

        if q.categories:
            narrow(self._category_mask(q.categories, size))
        if q.excluded_categories:
            narrow(~self._category_mask(q.excluded_categories, size))
        if q.after:
            narrow(self.published >= day_number(q.after))
        if q.before:
            narrow((self.published < day_number(q.before)) & (self.published != MISSING_DAY))
        sch = self.keyword.schema
        must = keyword.filter_clauses(sch, ParsedQuery(authors=q.authors))[0]
        must += keyword.text_clauses(sch, ParsedQuery(phrases=q.phrases))[1]
        if must:
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, c) for c in must])
            keys = keyword.matching_keys(self.keyword, query, FILTER_CAP)
            m = np.zeros(size, bool)
            m[keys[keys < size].astype(np.int64)] = True
            narrow(m)
        return mask

    def rejected(self, q: ParsedQuery, keys: np.ndarray) -> np.ndarray:
        """Which of `keys` the query's excluded words and authors rule out."""
        out = np.zeros(len(keys), bool)
        sch = self.keyword.schema
        excluded = ParsedQuery(excluded=q.excluded, excluded_authors=q.excluded_authors)
        must_not = keyword.filter_clauses(sch, excluded)[1]
        if not must_not or not len(keys):
            return out
        occur = tantivy.Occur
        query = tantivy.Query.boolean_query([
            (occur.Must, tantivy.Query.term_set_query(sch, "key", [int(k) for k in keys])),
            (occur.Must, tantivy.Query.boolean_query([(occur.Should, c) for c in must_not])),
        ])
        hits = keyword.matching_keys(self.keyword, query, len(keys))
        return np.isin(keys, hits)


_open: dict[Path, Generation] = {}
_open_lock = threading.Lock()


def current(index_dir: Path | str | None = None) -> Generation:
    """The generation CURRENT names, reopened when it changed since the last call."""
    root = index_root(index_dir).resolve()
    name = current_name(root)
    if name is None:
        raise IndexNotBuilt(root)
    gen = _open.get(root)
    if gen is None or gen.folder.name != name:
        with _open_lock:
            gen = _open.get(root)
            if gen is None or gen.folder.name != name:
                gen = _open[root] = Generation(root / name)
    return gen
