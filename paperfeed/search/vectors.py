"""
The vector index: one unit vector per paper in a usearch HNSW graph.

The graph stores vectors as int8 by default (`PAPERFEED_VECTOR_DTYPE=f16` for
half floats): 384 bytes a paper for MiniLM, so a million papers take about 0.4
GB plus the graph.  Its distances only choose candidates: each result is scored
from a `Matrix`, a key-indexed copy of every vector quantised per row (finer
than the graph's int8), which also gives fusion the cosine of keyword hits the
graph did not return.  Serving opens every file memory-mapped
(`Index.restore(..., view=True)`, `np.load(..., mmap_mode="r")`), so every web
worker shares the page cache instead of holding its own copy.  Keys are the catalogue's integers (`paperfeed.search.store`),
never arXiv ids, because usearch keys are 64-bit integers.

Filtered searches (category, dates, authors...) score the allowed papers
exactly when there are up to 100,000 of them, reading their rows from the
matrix, and otherwise ask the graph for more neighbours than needed until enough
survive the filter; either way filters apply before the top-k cut.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

try:
    # usearch 2.26 and onnxruntime 1.31 are both pybind11 extensions, and
    # `import onnxruntime` segfaults once usearch is loaded (the other order is
    # fine).  The encoder's fast CPU variant needs onnxruntime, so load it first.
    import onnxruntime  # noqa: F401
except ImportError:  # only the torch encoder variant, then
    pass
from usearch.index import Index  # noqa: E402

from paperfeed.search.errors import EncoderMismatch  # noqa: E402

# HNSW parameters (Malkov & Yashunin 2018).  expansion_add 128 (usearch's
# default) built 1,000 random 384-d vectors/s on the 2-core test machine, 64
# about 2.5x faster; on SciFact both give the same nDCG@10 as exact search.
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 96
# Up to this many allowed papers, scoring them all exactly (~5 ms per 10,000 on
# 2 cores) beats asking the graph for enough neighbours to survive the filter.
EXACT_LIMIT = 100_000
MAX_FETCH = 4_096
DTYPES = {"i8": "i8", "int8": "i8", "f16": "f16", "float16": "f16"}


def check_model(index_model: str, encoder_model: str) -> None:
    if index_model != encoder_model:
        raise EncoderMismatch(index_model, encoder_model)


def storage_dtype(name: str) -> str:
    try:
        return DTYPES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown vector dtype {name!r}: expected i8 or f16") from None


def new_index(dim: int, dtype: str) -> Index:
    return Index(
        ndim=dim,
        metric="cos",
        dtype=storage_dtype(dtype),
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def load(path: Path, dim: int, dtype: str, view: bool) -> Index:
    """The index saved at `path` (memory-mapped when `view`), or an empty one if none."""
    if not path.exists():
        return new_index(dim, dtype)
    index = Index.restore(str(path), view=view)
    if index is None:
        raise OSError(f"{path} is not a usearch index")
    index.expansion_search = EXPANSION_SEARCH
    return index


def save(index: Index, path: Path) -> None:
    """Write to a temporary file and rename: a reader never maps a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    index.save(str(tmp))
    os.replace(tmp, path)


def upsert(index: Index, keys: np.ndarray, vectors: np.ndarray, threads: int = 0) -> None:
    """Add vectors, replacing those of keys already present (a changed paper keeps its key)."""
    keys = np.asarray(keys, np.uint64)
    if len(keys) == 0:
        return
    present = np.asarray(index.contains(keys), bool).reshape(-1)
    if present.any():
        index.remove(keys[present])
    index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32), threads=threads)


def vector_of(index: Index, key: int) -> np.ndarray | None:
    if not index.contains(int(key)):
        return None
    vec = index.get(int(key), dtype=np.float32)
    return np.asarray(vec, np.float32).reshape(-1)


class Matrix:
    """Every paper's unit vector as a key-indexed int8 row and a float32 scale per row.

    `vectors.npy` and `vector_scales.npy`, memory-mapped.  Each row is quantised
    on its own (its largest component maps to 127), which keeps ~7 bits for every
    vector, where the graph's fixed int8 scale leaves 5–6 for MiniLM's components;
    cosines are within ~0.002 of float32.  int8 rows are also what a scan wants:
    numpy widens int8 to float32 ~10x faster than float16 (3.7 vs 45 ms for
    27,000 rows here).
    """

    ROWS, SCALES = "vectors.npy", "vector_scales.npy"
    FORYOU = "foryou_"  # file-name prefix of the For-you vectors' matrix (`encoder.foryou_encoder`)

    def __init__(self, rows: np.ndarray, scales: np.ndarray) -> None:
        self.rows, self.scales = rows, scales

    @classmethod
    def files(cls, prefix: str = "") -> tuple[str, str]:
        return prefix + cls.ROWS, prefix + cls.SCALES

    @classmethod
    def open(cls, folder: Path, prefix: str = "") -> Matrix | None:
        """The matrix in `folder` (`prefix`: which one), or None if it has none (indexes built before it)."""
        rows_file, scales_file = cls.files(prefix)
        if not (folder / rows_file).exists() or not (folder / scales_file).exists():
            return None
        rows = np.load(folder / rows_file, mmap_mode="r")
        return cls(rows, np.load(folder / scales_file, mmap_mode="r")) if rows.dtype == np.int8 else None

    def __len__(self) -> int:
        return len(self.rows)

    def has(self, key: int) -> bool:
        """Whether `key` has a row (rows never written keep scale 0)."""
        return bool(self.have(np.asarray([key]))[0])

    def have(self, keys: np.ndarray) -> np.ndarray:
        """`has` for many keys at once: a boolean array."""
        keys = np.asarray(keys, np.int64)
        out = np.zeros(len(keys), bool)
        inside = keys < len(self)
        out[inside] = np.asarray(self.scales[keys[inside]]) > 0
        return out

    def get(self, keys: np.ndarray, unit: bool = False) -> np.ndarray:
        """float32 vectors of `keys` (all inside the matrix), shape (len(keys), dim).

        `unit`: each scaled to length 1 instead (the int8 row over its length: the row's scale
        cancels), in one pass fewer than normalising what `get` gives (For you's batches)."""
        keys = np.asarray(keys, np.int64)
        if not unit:
            return np.asarray(self.rows[keys], np.float32) * np.asarray(self.scales[keys], np.float32)[:, None]
        return to_unit(np.asarray(self.rows[keys]).astype(np.float32))


def lengths(m: np.ndarray) -> np.ndarray:
    """The length of each row of a float32 matrix."""
    return np.sqrt(np.einsum("ij,ij->i", m, m))


def to_unit(m: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """`m` (float32, written in place) with every non-zero row scaled to length 1; `norms`: its
    `lengths` when the caller has them."""
    norms = lengths(m) if norms is None else norms
    m *= np.divide(1.0, norms, out=np.ones_like(norms), where=norms > 0)[:, None]
    return m


def quantise(vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and float32 scales with `rows * scales[:, None]` ≈ `vecs`."""
    vecs = np.asarray(vecs, np.float32)
    scales = np.maximum(np.abs(vecs).max(axis=1), 1e-12) / 127.0
    return np.rint(vecs / scales[:, None]).astype(np.int8), scales.astype(np.float32)


class MatrixWriter:
    """Writes a generation's `Matrix` into `folder`, indexed by key.

    Search re-scores the graph's candidates from it, fusion scores keyword hits
    the graph did not return, and filtered searches score the allowed rows
    directly (~10x faster than `Index.get`, which builds one array per key).
    Rows start as the base generation's matrix (or, for an index made before
    this format, the graph's vectors); `put` then writes the papers this build
    embedded, and `close` puts the files in place.  `prefix` names another
    matrix of the generation (the For-you vectors, `Matrix.FORYOU`); `prefill`
    False starts it from nothing (every row will be `put`).
    """

    def __init__(self, folder: Path, graph: Index, size: int, base: Path | None = None, prefix: str = "",
                 prefill: bool = True) -> None:
        self.folder = folder
        rows_file, scales_file = Matrix.files(prefix)
        self.tmp = {name: folder / f".{name}.{os.getpid()}.tmp.npy" for name in (rows_file, scales_file)}
        self.rows = np.lib.format.open_memmap(self.tmp[rows_file], mode="w+", dtype=np.int8, shape=(size, graph.ndim))
        self.scales = np.lib.format.open_memmap(self.tmp[scales_file], mode="w+", dtype=np.float32, shape=(size,))
        if not prefill:
            return
        old = Matrix.open(base, prefix) if base is not None else None
        if old is not None and old.rows.shape[1] == graph.ndim:
            for start in range(0, min(len(old), size), 50_000):
                stop = min(start + 50_000, len(old), size)
                self.rows[start:stop], self.scales[start:stop] = old.rows[start:stop], old.scales[start:stop]
            return
        keys = np.asarray(graph.keys, np.uint64)
        for start in range(0, len(keys), 50_000):
            part = keys[start : start + 50_000]
            vecs = np.asarray(graph.get(part, dtype=np.float32), np.float32).reshape(len(part), -1)
            self.put(part, vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12))

    def put(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        keys = np.asarray(keys, np.int64)
        self.rows[keys], self.scales[keys] = quantise(vecs)

    def close(self) -> None:
        for array in (self.rows, self.scales):
            array.flush()
        del self.rows, self.scales
        for name, path in self.tmp.items():
            os.replace(path, self.folder / name)


def _dot(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """rows @ query without BLAS: a matrix-vector product is bound by memory, and
    OpenBLAS's threads made it 4x slower (6 ms for 17,500 rows) on a busy 2-core
    machine, where one thread takes 1.4-1.6 ms."""
    return np.einsum("ij,j->i", rows, query)


def similarities(matrix: Matrix, query: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Cosine of unit vector `query` with the rows `keys` of `matrix`.

    Keys past the end of the matrix (not indexed) score -1.
    """
    keys = np.asarray(keys, np.int64)
    inside = keys < len(matrix)
    out = np.full(len(keys), -1.0, np.float32)
    if inside.any():
        at = np.flatnonzero(inside)
        at = at[np.argsort(keys[at], kind="stable")]  # read the rows in key order
        out[at] = _dot(matrix.get(keys[at]), np.asarray(query, np.float32))
    return out


def _best(keys: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` highest-scoring keys and their scores, best first (ties in input order)."""
    top = np.argpartition(-sims, k - 1)[:k] if len(sims) > k else np.arange(len(sims))
    top = top[np.argsort(-sims[top], kind="stable")]
    return np.asarray(keys, np.uint64)[top], np.asarray(sims, np.float32)[top]


def _exact(matrix: Matrix, query: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of `query` with the rows `keys` of `matrix`, best `k` first."""
    best_keys, best_sims = [np.empty(0, np.uint64)], [np.empty(0, np.float32)]
    keys = keys[keys < len(matrix)]
    for start in range(0, len(keys), 32_768):  # chunks bound the float32 copy
        chunk = keys[start : start + 32_768]
        chunk_keys, chunk_sims = _best(chunk, _dot(matrix.get(chunk), query), k)
        best_keys.append(chunk_keys)
        best_sims.append(chunk_sims)
    return _best(np.concatenate(best_keys), np.concatenate(best_sims), k)


def search(
    index: Index,
    query: np.ndarray,
    k: int,
    allowed=None,
    matrix: Matrix | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest keys to unit vector `query` and their cosine similarities.

    `allowed`, when given, is a `store.Allowed`: only its keys may be returned
    (its `rows`, when present, are their vectors).  `matrix` (from
    `MatrixWriter`) gives exact scores and enables exact scoring of small
    allowed sets.
    """
    size = len(index)
    if size == 0 or k <= 0:
        return np.empty(0, np.uint64), np.empty(0, np.float32)
    query = np.asarray(query, np.float32).reshape(-1)
    if allowed is None:
        if matrix is None:
            m = index.search(query, min(k, size))
            return np.asarray(m.keys, np.uint64), (1.0 - np.asarray(m.distances, np.float32))
        # the graph's (int8) distances only pick candidates; the matrix's finer scores rank them
        keys = np.asarray(index.search(query, min(k + k // 2, size)).keys, np.uint64)
        return _best(keys, similarities(matrix, query, keys), k)
    candidates = allowed.keys
    if allowed.rows is not None:
        return _best(candidates[: len(allowed.rows)], _dot(allowed.rows, query), k)
    if matrix is not None and len(candidates) <= EXACT_LIMIT:
        return _exact(matrix, query, candidates, k)
    # Over-fetch in proportion to how much the filter removes, growing until enough
    # pass; past MAX_FETCH the graph walk costs more than scoring the allowed set.
    mask = allowed.mask
    fetch = min(size, max(4 * k, int(2 * k * size / max(len(candidates), 1))))
    while fetch <= MAX_FETCH or matrix is None:
        m = index.search(query, fetch)
        keys = np.asarray(m.keys, np.uint64)
        keep = (keys < len(mask)) & mask[np.minimum(keys, len(mask) - 1)]
        if keep.sum() >= k or fetch >= size:
            if matrix is not None:
                return _best(keys[keep], similarities(matrix, query, keys[keep]), k)
            sims = 1.0 - np.asarray(m.distances, np.float32)
            return keys[keep][:k], sims[keep][:k]
        fetch = min(size, fetch * 4)
    return _exact(matrix, query, candidates, k)
