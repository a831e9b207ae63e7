"""Unit rows: what the recommend models read as embeddings (`window.unit_rows`), and the index's
int8 rows read straight at length 1 (`vectors.Matrix.get(unit=True)`)."""

import numpy as np

from paperfeed.recommend.window import unit_rows
from paperfeed.search.vectors import Matrix, quantise


def test_unit_rows_scales_copies_or_shares():
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((6, 16)).astype(np.float32) * 3
    raw[2] = 0.0
    before = raw.copy()
    out = unit_rows(raw)
    assert np.array_equal(raw, before)  # the caller's rows are not touched
    assert np.allclose(np.linalg.norm(out, axis=1), [1, 1, 0, 1, 1, 1], atol=1e-6)
    assert np.allclose(out[0], raw[0] / np.linalg.norm(raw[0]))
    assert unit_rows(out) is out  # unit already: not copied again
    assert unit_rows(out[::2]) is not out  # not contiguous: a contiguous copy
    assert unit_rows(out[::2]).flags.c_contiguous
    assert unit_rows(raw[0]).shape == (1, 16)
    assert unit_rows(np.zeros((0, 16)), 16).shape == (0, 16)


def test_matrix_rows_at_length_one():
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((50, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows, scales = quantise(vecs)
    rows[7] = 0  # a row never written: scale 0, all zero
    scales[7] = 0
    m = Matrix(rows, scales)
    keys = np.array([3, 7, 3, 49])
    plain, unit = m.get(keys), m.get(keys, unit=True)
    assert unit.dtype == np.float32 and unit.shape == (4, 384)
    assert np.allclose(unit[[0, 2, 3]], plain[[0, 2, 3]] / np.linalg.norm(plain[[0, 2, 3]], axis=1, keepdims=True),
                       atol=1e-7)
    assert not unit[1].any()
    assert np.allclose(unit[0], vecs[3], atol=0.01)
