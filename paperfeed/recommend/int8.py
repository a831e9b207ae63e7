"""
Shortlist products in int8: a window's rows against many readers' query rows.

Shortlisting (`fit.prescores`) compares every paper of a window with every
reader's prototypes: at 4,000 papers x 32 prototypes x 384 dimensions that is
the digest's largest product, and float32 runs it at one core's peak.  The
rows are unit vectors and the result only picks candidates (the final scores
are float32), so both sides are quantised to 8 bits and multiplied by
onnxruntime's MatMulInteger, whose integer kernels (VNNI where the CPU has it)
take about a third of the float32 product's time (benchmarks/RESULTS.md).

- window rows: one scale per row (`Int8Rows`; the search index's matrix is
  already int8 per row, so this loses next to nothing);
- a reader's query rows: one scale for all of them, so the best of a reader's
  integer products is the best of its real ones, found before any rescaling.

Integer sums are exact, so a reader's result does not depend on the readers
batched with it.  Without onnxruntime the same integers are multiplied in
float32, which holds them exactly too (|sum| <= dim x 127 x 127, below 2^24
up to 1,040 dimensions): the same numbers, slower.
"""

from __future__ import annotations

import base64
import logging
from functools import cache

import numpy as np

log = logging.getLogger("paperfeed.recommend")

# MatMulInteger(a: uint8 with zero point 128, b: int8) -> int32, opset 13, as `onnx.helper` serialises
# it (tests/test_recommend_int8.py builds it and compares): kept as bytes, so no process imports the
# onnx package (~0.9 s) to rank
MATMUL_INTEGER = base64.b64decode(
    "CAg6cAoeCgFhCgFiCgR6ZXJvEgF5Ig1NYXRNdWxJbnRlZ2VyEg1pbnQ4X3Byb2R1Y3RzKgwQAioCgAFCBHplcm9aDwoBYRIKCggIAhIE"
    "CgAKAFoPCgFiEgoKCAgDEgQKAAoAYg8KAXkSCgoICAYSBAoACgBCBAoAEA0=")


class Int8Rows:
    """Unit rows quantised to int8 as the search index stores them (`vectors.quantise`: one scale
    a row), kept transposed (dim, n) for products."""

    def __init__(self, rows: np.ndarray):
        from paperfeed.search.vectors import quantise

        ints, self.scale = quantise(rows)
        self.columns = np.ascontiguousarray(ints.T)

    def __len__(self) -> int:
        return self.columns.shape[1]


def quantise_queries(queries: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """(int8 rows, their one scale) of a reader's query rows."""
    top = float(np.abs(queries).max()) if queries.size else 0.0
    scale = np.float32(top / 127 if top > 0 else 1.0)
    return np.rint(queries / scale).astype(np.int8), scale


def best_products(queries: list[np.ndarray], rows: Int8Rows) -> np.ndarray:
    """(len(queries), len(rows)) float32: for each reader's (k, dim) query rows (every reader
    k of them), the largest product of each row with one of them, in int8."""
    if not queries:
        return np.zeros((0, len(rows)), np.float32)
    k = len(queries[0])
    quantised = [quantise_queries(q) for q in queries]
    stacked = np.concatenate([q for q, _ in quantised])
    products = _integer_products(stacked, rows.columns)
    best = products.reshape(len(queries), k, len(rows)).max(axis=1)
    scales = np.asarray([s for _, s in quantised], np.float32)
    return best.astype(np.float32) * scales[:, None] * rows.scale[None, :]


def _integer_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int32 a @ b of int8 `a` (m, dim) and int8 `b` (dim, n)."""
    session = _session()
    if session is None:
        return (a.astype(np.float32) @ b.astype(np.float32)).astype(np.int32)
    # MatMulInteger's fast kernels take unsigned rows on the left: a + 128 with zero point 128
    shifted = (a.astype(np.int16) + 128).astype(np.uint8)
    return session.run(None, {"a": shifted, "b": b})[0]


@cache
def _session():
    """A one-thread onnxruntime session of `MATMUL_INTEGER`, or None without onnxruntime (the
    search extra).  Digest workers run one per core: one thread each.  Two threads asking at
    once may each build one: harmless."""
    try:
        # `paperfeed.search.vectors` imports onnxruntime before usearch: the other order segfaults
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(MATMUL_INTEGER, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # an onnxruntime without the kernel: the same numbers in float32
        log.warning("int8 shortlist products in float32: onnxruntime refused MatMulInteger (%s: %s)",
                    type(e).__name__, e)
        return None
