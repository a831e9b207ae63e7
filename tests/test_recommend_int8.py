"""The shortlist's int8 products (`recommend.int8`): the integers a reader's best products come
from, onnxruntime's kernel against the same integers in float32, and how close they stay to the
float32 cosines."""

import numpy as np
import pytest

from paperfeed.recommend import int8


def unit(rng, n, dim):
    m = rng.standard_normal((n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def by_hand(queries, rows):
    """Each reader's best product, quantised as the module says, in int64."""
    rscale = np.abs(rows).max(axis=1) / 127
    r = np.rint(rows / rscale[:, None]).astype(np.int64)
    out = []
    for q in queries:
        s = np.abs(q).max() / 127
        best = (np.rint(q / s).astype(np.int64) @ r.T).max(axis=0)
        out.append(best * s * rscale)
    return np.array(out)


@pytest.mark.parametrize("dim", [32, 384])
def test_best_products_are_the_quantised_integers_and_close_to_the_cosines(dim):
    rng = np.random.default_rng(dim)
    rows = unit(rng, 700, dim)
    queries = [unit(rng, 5, dim) for _ in range(9)]
    got = int8.best_products(queries, int8.Int8Rows(rows))
    assert got.shape == (9, 700) and got.dtype == np.float32
    assert got == pytest.approx(by_hand(queries, rows), rel=1e-6, abs=1e-7)
    exact = np.stack([(q @ rows.T).max(axis=0) for q in queries])
    assert np.abs(got - exact).max() < 0.01
    # a reader's numbers do not depend on who is batched with it
    assert np.array_equal(got[3], int8.best_products([queries[3]], int8.Int8Rows(rows))[0])


def test_onnxruntime_and_float32_give_the_same_integers(monkeypatch):
    rng = np.random.default_rng(1)
    a = rng.integers(-127, 128, (300, 384), dtype=np.int8)
    b = rng.integers(-127, 128, (384, 1000), dtype=np.int8)
    assert int8._session() is not None  # the search extra's onnxruntime: the kernel the digest uses
    kernel = int8._integer_products(a, b)
    monkeypatch.setattr(int8, "_session", lambda: None)
    plain = int8._integer_products(a, b)
    want = a.astype(np.int64) @ b.astype(np.int64)
    assert kernel.dtype == np.int32 and np.array_equal(kernel, want)
    assert np.array_equal(plain, want)


def test_zero_rows_and_no_readers():
    rows = np.zeros((3, 8), np.float32)
    rows[1, 2] = 1.0
    packed = int8.Int8Rows(rows)
    assert len(packed) == 3
    got = int8.best_products([np.eye(8, dtype=np.float32)[:2], np.zeros((2, 8), np.float32)], packed)
    assert got.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    got = int8.best_products([np.eye(8, dtype=np.float32)[2:4]], packed)
    assert got[0].tolist() == pytest.approx([0.0, 1.0, 0.0])
    assert int8.best_products([], packed).shape == (0, 3)


def test_the_kept_model_is_the_one_onnx_builds():
    """`int8.MATMUL_INTEGER` is MatMulInteger(uint8 a, int8 b, zero point 128) as `onnx.helper`
    makes it: kept as bytes so that ranking imports no onnx."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "zero"], ["y"])], "int8_products",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, None]),
         helper.make_tensor_value_info("b", TensorProto.INT8, [None, None])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [None, None])],
        initializer=[helper.make_tensor("zero", TensorProto.UINT8, [], [128])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    assert int8.MATMUL_INTEGER == model.SerializeToString()
