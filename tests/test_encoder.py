"""The embedding encoder, with the real bundled MiniLM model: shapes, ranking, variants, errors."""

from __future__ import annotations

import numpy as np
import pytest

from paperfeed.search import encoder as enc

ABSTRACTS = [
    enc.document_text(
        "Highly accurate protein structure prediction with AlphaFold",
        "We present a neural network that predicts the three-dimensional structure of proteins "
        "from their amino-acid sequence with atomic accuracy.",
    ),
    enc.document_text(
        "Grain prices and the Hanseatic League",
        "Customs records from Baltic ports show how medieval merchants traded rye and wheat.",
    ),
    enc.document_text(None, "Attention is all you need: a transformer replaces recurrence in translation."),
    "short",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """ONNX exports go to one temporary data dir, so they are built once for this module."""
    path = tmp_path_factory.mktemp("paperfeed-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERFEED_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def fast(data_dir) -> enc.Encoder:
    return enc.get_encoder(variant=enc.CPU_VARIANT, device="cpu")


@pytest.fixture(scope="module")
def reference(fast) -> enc.Encoder:
    """Plain sentence-transformers at the same sequence length as the fast variant."""
    return enc.get_encoder(variant=f"torch/{fast.max_length}", device="cpu")


def test_documents_are_unit_vectors_in_input_order(fast):
    increments: list[int] = []
    vectors = fast.encode_documents(ABSTRACTS, batch_size=3, progress=increments.append)
    assert vectors.shape == (len(ABSTRACTS), fast.dim) == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert increments == [3, 1]
    # Longest-first batching must put every vector back in its text's row.
    one_by_one = np.stack([fast.encode_documents([t])[0] for t in ABSTRACTS])
    assert np.all(np.sum(vectors * one_by_one, axis=1) > 0.99)


def test_empty_input(fast):
    assert fast.encode_documents([]).shape == (0, fast.dim)


def test_query_ranks_matching_abstract_first(fast):
    query = fast.encode_query("deep learning for predicting how proteins fold")
    assert query.shape == (fast.dim,) and query.dtype == np.float32
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-5)
    scores = fast.encode_documents(ABSTRACTS) @ query
    assert scores.argmax() == 0
    assert scores[0] > scores[1] + 0.3


def test_fast_variant_agrees_with_sentence_transformers(fast, reference):
    cosines = np.sum(fast.encode_documents(ABSTRACTS) * reference.encode_documents(ABSTRACTS), axis=1)
    assert np.all(cosines > 0.98), cosines
    query = "protein structure"
    assert float(fast.encode_query(query) @ reference.encode_query(query)) > 0.98


def test_model_id_names_model_variant_and_length(fast, reference, data_dir):
    fp32 = enc.get_encoder(variant="onnx/256", device="cpu")
    short = enc.get_encoder(variant="onnx-int8/128", device="cpu")
    ids = {fast.model_id, reference.model_id, fp32.model_id, short.model_id}
    assert len(ids) == 4
    assert short.model_id == "all-MiniLM-L6-v2/onnx-int8/128"
    # The index records model_id; the query side rebuilds the very same encoder from it.
    assert enc.get_encoder(*enc.parse_model_id(fast.model_id), device="cpu") is fast


def test_onnx_export_is_cached_in_the_data_dir(fast, data_dir):
    path = enc.onnx_file(fast.model_dir, int8=True)
    assert path.is_file() and data_dir / "models" in path.parents
    assert enc.onnx_file(fast.model_dir, int8=True) == path


def test_unknown_model_path_is_a_readable_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(enc.EncoderError, match="no-such-model") as info:
        enc.get_encoder(model=str(missing), device="cpu")
    assert "HF_HUB_OFFLINE" in str(info.value) and len(str(info.value)) < 400

    with pytest.raises(enc.EncoderError, match="holds no model"):
        enc.get_encoder(model=str(tmp_path), device="cpu")
    with pytest.raises(enc.EncoderError, match="neither a directory"):
        enc.get_encoder(model="nobody/no-such-model-on-the-hub", device="cpu")


def test_unknown_variant_and_device_are_readable_errors():
    with pytest.raises(enc.EncoderError, match="unknown embedding variant"):
        enc.get_encoder(variant="onnx-int4", device="cpu")
    with pytest.raises(enc.EncoderError, match="unknown embedding device"):
        enc.get_encoder(device="tpu")


def test_document_text_joins_title_and_abstract():
    assert enc.document_text("A title", " An abstract. ") == "A title An abstract."
    assert enc.document_text(None, "Only abstract") == "Only abstract"
    assert enc.document_text("", "Only abstract") == "Only abstract"


def test_onnx_tokenizer_gives_the_token_ids_of_transformers(fast):
    """Serving tokenises with `tokenizers` alone; the ids (hence vectors) must be AutoTokenizer's."""
    from transformers import AutoTokenizer

    texts = [*ABSTRACTS, "", "Ünïcödé naïve café Ça 中文字符 ∑∫ $\\alpha$", "word " * 1000, " \t\n "]
    texts = [t.lower() for t in texts] if fast.lower_case else texts
    reference = AutoTokenizer.from_pretrained(str(fast.model_dir))
    want = reference(texts, truncation=True, max_length=fast.max_length)["input_ids"]
    assert fast._tokenize(texts) == want
    assert max(len(ids) for ids in want) == fast.max_length  # the long text was cut
    assert fast.pad_id == reference.pad_token_id
    assert (fast.model_file.parent / "tokenizer.json").is_file()  # saved beside the export


def test_query_encoder_is_the_one_the_index_records(fast, monkeypatch):
    monkeypatch.setenv("PAPERFEED_EMBEDDING_DEVICE", "cpu")
    assert enc.query_encoder(fast.model_id) is fast
    # the variant setting unset (the default): the index's variant, whatever the device
    monkeypatch.setenv("PAPERFEED_EMBEDDING_VARIANT", "")
    assert enc.query_encoder(fast.model_id) is fast
    monkeypatch.setenv("PAPERFEED_EMBEDDING_VARIANT", fast.model_id.split("/", 1)[1])
    assert enc.query_encoder(fast.model_id) is fast


def test_query_encoder_refuses_another_configured_model(fast, monkeypatch):
    monkeypatch.setenv("PAPERFEED_EMBEDDING_MODEL", "some/other-model")
    with pytest.raises(enc.EncoderMismatch, match="paperfeed index --rebuild"):
        enc.query_encoder(fast.model_id)
    monkeypatch.setenv("PAPERFEED_EMBEDDING_MODEL", enc.BUNDLED_MODEL)
    monkeypatch.setenv("PAPERFEED_EMBEDDING_VARIANT", "onnx/128")
    with pytest.raises(enc.EncoderMismatch, match="onnx/128"):
        enc.query_encoder(fast.model_id)
