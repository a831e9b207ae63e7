"""
Two int8 alternatives to the shipped dynamic quantisation, built for measurement.

paperfeed's `onnx-int8` variant is ONNX Runtime's dynamic quantisation: each
matrix product scales its activations by the largest value in the whole batch,
so a paper's vector depends on which papers share its batch.  This module
builds the two obvious fixes so that they can be measured, not shipped:

- ``onnx-static8``: static QDQ quantisation, activation ranges calibrated once
  (MinMax) on abstracts that ship with paperfeed (`paperfeed/data`);
- ``onnx-tok8``: the dynamic model rewritten to quantise activations per token
  (each row scaled by its own largest magnitude, uint8 around 128), with
  ONNX Runtime's fused `MatMulIntegerToFloat` and the row scale applied after it.

`encoder_speed.py --variants onnx-static8/192,onnx-tok8/192` measures their
speed and SciFact quality; run this file for their fidelity on the bundled
abstracts: cosine to float32, and the smallest cosine between a paper's vector
encoded in batches of 64 and in batches of 7 (1.0 = independent of the batch).

Example:
    python benchmarks/quantisation.py --data-dir /tmp/quant
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import numpy as np

from paperfeed.search import encoder as enc

SAMPLE = Path(enc.__file__).resolve().parents[1] / "data" / "arxiv-kaggle-sample.jsonl"
EXPERIMENTAL = ("onnx-static8", "onnx-tok8")


def sample_texts() -> list[str]:
    rows = [json.loads(line) for line in open(SAMPLE)]
    return [enc.document_text(r.get("title"), r.get("abstract") or "") for r in rows]


def experimental_encoder(variant: str) -> enc.Encoder:
    """An `onnx/L` encoder whose session runs one of the EXPERIMENTAL graphs."""
    import onnxruntime as ort

    runtime, _, length = variant.partition("/")
    e = enc.get_encoder(variant=f"onnx/{length}" if length else "onnx")
    fp32 = enc.onnx_file(e.model_dir, int8=False)
    path = fp32.with_name(f"model-{runtime}.onnx")
    if not path.exists():
        if runtime == "onnx-static8":
            static_int8(fp32, path, e)
        else:
            per_token_int8(enc.onnx_file(e.model_dir, int8=True), path)
    clone = copy.copy(e)  # the same tokenizer and settings, another graph
    clone.session = ort.InferenceSession(str(path), e.session.get_session_options(), providers=e.session.get_providers())
    clone.model_id = e.model_id.replace("/onnx/", f"/{runtime}/")
    return clone


def static_int8(fp32: Path, out: Path, e: enc.Encoder) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    texts = sample_texts()[:100]  # the other 100 are what main() measures on

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            tokens = e._tokenize(texts)
            self.batches = iter([e.inputs(tokens[i : i + 16]) for i in range(0, len(tokens), 16)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(
        str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax, extra_options={"DefaultTensorType": 1},
    )


def per_token_int8(dynamic: Path, out: Path) -> None:
    """Rewrite each DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(a_scale * w_scale)
    chain as per-row QuantizeLinear -> MatMulIntegerToFloat(a_scale = 1) -> Mul(row scale)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(dynamic))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    graph.initializer.extend([
        numpy_helper.from_array(np.array(127.0, np.float32), "tok_127"),
        numpy_helper.from_array(np.array(1e-8, np.float32), "tok_eps"),
        numpy_helper.from_array(np.array(128, np.uint8), "tok_zp"),
        numpy_helper.from_array(np.array([128], np.uint8), "tok_zp1"),
        numpy_helper.from_array(np.array([-1], np.int64), "tok_flat"),
        numpy_helper.from_array(np.array(1.0, np.float32), "tok_one"),
    ])
    nodes = list(graph.node)
    producer = {o: n for n in nodes for o in n.output}
    consumers: dict[str, list] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    row_scale = {n.output[0]: n.output[1] for n in nodes if n.op_type == "DynamicQuantizeLinear"}
    dropped, replaced = set(), {}
    for n in nodes:
        if n.op_type != "MatMulInteger" or n.input[0] not in row_scale:
            continue
        (cast,) = consumers[n.output[0]]
        (mul,) = consumers[cast.output[0]]
        product = producer[next(i for i in mul.input if i != cast.output[0])]
        w_scale = next(i for i in product.input if i != row_scale[n.input[0]])
        fused = n.output[0] + "_float"
        replaced[id(n)] = [
            helper.make_node(
                "MatMulIntegerToFloat", [n.input[0], n.input[1], "tok_one", w_scale, "tok_zp", n.input[3]],
                [fused], domain="com.microsoft",
            ),
            helper.make_node("Mul", [fused, row_scale[n.input[0]]], [mul.output[0]]),
        ]
        dropped |= {id(cast), id(mul), id(product)}
    rewritten = []
    for n in nodes:
        if id(n) in dropped:
            continue
        if id(n) in replaced:
            rewritten += replaced[id(n)]
            continue
        if n.op_type != "DynamicQuantizeLinear":
            rewritten.append(n)
            continue
        x, (q, scale, _) = n.input[0], n.output
        width = weights[next(c.input[1] for c in consumers[q] if c.op_type == "MatMulInteger")].dims[0]
        p = q + "_tok"
        graph.initializer.append(numpy_helper.from_array(np.array([-1, width], np.int64), p + "_2d"))
        rewritten += [
            helper.make_node("Abs", [x], [p + "_abs"]),
            helper.make_node("ReduceMax", [p + "_abs"], [p + "_max"], axes=[-1], keepdims=1),
            helper.make_node("Div", [p + "_max", "tok_127"], [p + "_s"]),
            helper.make_node("Max", [p + "_s", "tok_eps"], [scale]),  # (batch, tokens, 1)
            helper.make_node("Reshape", [scale, "tok_flat"], [p + "_rows"]),
            helper.make_node("Shape", [p + "_rows"], [p + "_n"]),
            helper.make_node("Expand", ["tok_zp1", p + "_n"], [p + "_zps"]),
            helper.make_node("Reshape", [x, p + "_2d"], [p + "_x2"]),
            helper.make_node("QuantizeLinear", [p + "_x2", p + "_rows", p + "_zps"], [p + "_q2"], axis=0),
            helper.make_node("Shape", [x], [p + "_shape"]),
            helper.make_node("Reshape", [p + "_q2", p + "_shape"], [q]),
        ]
    del graph.node[:]
    graph.node.extend(rewritten)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    stale = ("_quantized", "_scale", "_zero_point")
    kept = [v for v in graph.value_info if not v.name.endswith(stale)]
    del graph.value_info[:]
    graph.value_info.extend(kept)
    onnx.save(model, str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=192)
    parser.add_argument("--data-dir", help="where ONNX files are cached (default PAPERFEED_DATA_DIR)")
    args = parser.parse_args()
    if args.data_dir:
        os.environ["PAPERFEED_DATA_DIR"] = args.data_dir
    texts = sample_texts()[100:]
    reference = enc.get_encoder(variant=f"onnx/{args.length}").encode_documents(texts)
    print(f"{len(texts)} bundled abstracts, {args.length} tokens, {os.cpu_count()} CPUs")
    print(f"{'variant':14} {'cos mean':>9} {'cos min':>8} {'rebatch min':>12} {'docs/s':>7}")
    for runtime in ("onnx-int8", *EXPERIMENTAL):
        variant = f"{runtime}/{args.length}"
        e = enc.get_encoder(variant=variant) if runtime == "onnx-int8" else experimental_encoder(variant)
        e.encode_documents(texts[:16])  # warm-up
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            vecs = e.encode_documents(texts, batch_size=64)
            best = max(best, len(texts) / (time.perf_counter() - start))
        small = e.encode_documents(texts, batch_size=7)
        cos = np.sum(vecs * reference, axis=1)
        rebatch = np.sum(vecs * small, axis=1)
        print(f"{runtime:14} {cos.mean():9.5f} {cos.min():8.5f} {rebatch.min():12.5f} {best:7.1f}")


if __name__ == "__main__":
    main()
