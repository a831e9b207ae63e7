"""Indexing and searching a real database with the real encoder, tantivy and usearch."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed.ingest.records import PaperRecord
from paperfeed.ingest.upsert import write_batch
from paperfeed.search import (
    EncoderMismatch,
    IndexNotBuilt,
    hybrid,
    search,
    similar,
    store,
    update_index,
)
from paperfeed.search.commands import search_command
from paperfeed.search.pipeline import ranked_keys
from paperfeed.search.query import parse

PAPERS = [
    ("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
     "Foundation models are almost universally based on the Transformer architecture. We identify that "
     "a key weakness of such models is their inability to perform content-based reasoning, and propose "
     "a selective state space model with a hardware-aware parallel algorithm.",
     ["Albert Gu", "Tri Dao"], ["cs.LG", "cs.AI"], date(2023, 12, 1)),
    ("2111.00396", "Efficiently Modeling Long Sequences with Structured State Spaces",
     "A central goal of sequence modeling is designing a single principled model that can address "
     "sequence data across a range of modalities and tasks, particularly long-range dependencies. "
     "We propose the structured state space sequence model (S4).",
     ["Albert Gu", "Karan Goel", "Christopher Ré"], ["cs.LG"], date(2021, 10, 31)),
    ("2105.05233", "Diffusion Models Beat GANs on Image Synthesis",
     "We show that diffusion models can achieve image sample quality superior to the current "
     "state-of-the-art generative models, with classifier guidance.",
     ["Prafulla Dhariwal", "Alex Nichol"], ["cs.LG", "cs.CV", "stat.ML"], date(2021, 5, 11)),
    ("2006.11239", "Denoising Diffusion Probabilistic Models",
     "We present high quality image synthesis results using diffusion probabilistic models, a class of "
     "latent variable models inspired by considerations from nonequilibrium thermodynamics.",
     ["Jonathan Ho", "Ajay Jain", "Pieter Abbeel"], ["cs.LG", "stat.ML"], date(2020, 6, 19)),
    ("1706.03762", "Attention Is All You Need",
     "The dominant sequence transduction models are based on complex recurrent or convolutional neural "
     "networks. We propose a new simple network architecture, the Transformer, based solely on attention.",
     ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"], ["cs.CL", "cs.LG"], date(2017, 6, 12)),
    ("1810.04805", "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
     "We introduce a new language representation model called BERT, designed to pre-train deep "
     "bidirectional representations from unlabeled text.",
     ["Jacob Devlin", "Ming-Wei Chang"], ["cs.CL"], date(2018, 10, 11)),
    ("1512.03385", "Deep Residual Learning for Image Recognition",
     "Deeper neural networks are more difficult to train. We present a residual learning framework to "
     "ease the training of networks that are substantially deeper than those used previously.",
     ["Kaiming He", "Xiangyu Zhang"], ["cs.CV"], date(2015, 12, 10)),
    ("2010.11929", "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
     "While the Transformer architecture has become the de-facto standard for natural language processing "
     "tasks, its applications to computer vision remain limited. We apply a pure transformer to patches.",
     ["Alexey Dosovitskiy", "Lucas Beyer"], ["cs.CV", "cs.LG"], date(2020, 10, 22)),
    ("hep-th/9711200", "The Large N Limit of Superconformal Field Theories and Supergravity",
     "We show that the large N limit of certain conformal field theories in various dimensions include in "
     "their Hilbert space a sector describing supergravity on the product of Anti-de Sitter spacetimes.",
     ["Juan Maldacena"], ["hep-th"], date(1997, 11, 27)),
    ("1312.6114", "Auto-Encoding Variational Bayes",
     "How can we perform efficient inference and learning in directed probabilistic models, in the "
     "presence of continuous latent variables with intractable posterior distributions?",
     ["Diederik P Kingma", "Max Welling"], ["stat.ML", "cs.LG"], date(2013, 12, 20)),
]


def record(arxiv_id, title, abstract, authors, cats, day) -> PaperRecord:
    return PaperRecord(
        arxiv_id=arxiv_id, source="test", title=title, abstract=abstract, authors=authors,
        categories=cats, primary_category=cats[0],
        published=datetime(day.year, day.month, day.day, tzinfo=UTC),
    )


@pytest.fixture(scope="session")
def encoder(tmp_path_factory):
    """The default encoder, exported once per session into a scratch data directory."""
    import os

    from paperfeed.search.encoder import get_encoder

    old = os.environ.get("PAPERFEED_DATA_DIR")
    os.environ["PAPERFEED_DATA_DIR"] = str(tmp_path_factory.mktemp("models"))
    try:
        return get_encoder()
    finally:
        if old is None:
            os.environ.pop("PAPERFEED_DATA_DIR")
        else:
            os.environ["PAPERFEED_DATA_DIR"] = old


@pytest.fixture
def corpus(engine, data_dir):
    write_batch(engine, [record(*p) for p in PAPERS])
    return engine


@pytest.fixture
def indexed(corpus, encoder):
    report = update_index(corpus, encoder=encoder, chunk_size=4)
    assert report.complete and report.indexed == len(PAPERS)
    return corpus


def ids(page) -> list[str]:
    return [h.arxiv_id for h in (page.hits if hasattr(page, "hits") else page)]


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_modes_find_the_topic(indexed, encoder, mode):
    page = search(indexed, "state space models for long sequences", mode=mode, limit=3, encoder=encoder)
    assert set(ids(page)[:2]) == {"2312.00752", "2111.00396"}
    assert page.total >= 2


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ('"state space" author:gu', {}, {"2312.00752", "2111.00396"}),
        ("image generation", {"category": "cs.CV"}, {"2105.05233", "1512.03385", "2010.11929"}),
        ("image generation cat:stat.ML -diffusion", {}, {"1312.6114"}),
        ("transformers", {"after": date(2018, 1, 1), "before": date(2020, 1, 1)}, {"1810.04805"}),
        ("physics cat:hep-th", {}, {"hep-th/9711200"}),
        ("neural networks -cat:cs.LG -cat:cs.CV", {}, {"1810.04805", "hep-th/9711200"}),
    ],
)
def test_filters_apply_in_every_mode(indexed, encoder, mode, text, kwargs, expected):
    page = search(indexed, text, mode=mode, limit=10, encoder=encoder, **kwargs)
    assert set(ids(page)) <= expected
    if mode != "keyword":  # semantic modes rank every allowed paper
        assert set(ids(page)) == expected


def test_hits_carry_papers_and_marked_snippets(indexed, encoder):
    hit = search(indexed, "diffusion", mode="keyword", limit=1, encoder=encoder).hits[0]
    assert hit.arxiv_id in ("2105.05233", "2006.11239")
    assert "<mark>Diffusion</mark>" in hit.title_html
    assert "<mark>diffusion</mark>" in hit.abstract_html
    assert hit.authors and hit.published.year in (2020, 2021)


def test_pagination(indexed, encoder):
    full = ids(search(indexed, "models", mode="hybrid", limit=8, encoder=encoder))
    pages = [ids(search(indexed, "models", mode="hybrid", limit=3, offset=o, encoder=encoder)) for o in (0, 3, 6)]
    assert sum(pages, [])[:8] == full


def test_filters_without_words_list_newest_first(indexed, encoder):
    page = search(indexed, "cat:cs.CL", mode="hybrid", encoder=encoder)
    assert ids(page) == ["1810.04805", "1706.03762"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200), st.sampled_from(["keyword", "semantic", "hybrid"]))
def test_any_string_returns_a_page(indexed, encoder, text, mode):
    page = search(indexed, text, mode=mode, limit=5, encoder=encoder)
    assert len(page.hits) <= 5


def test_nothing_is_served_before_the_first_build(corpus, encoder):
    with pytest.raises(IndexNotBuilt, match="paperfeed index"):
        search(corpus, "diffusion", mode="keyword")


def test_killed_build_resumes_where_it_stopped(corpus, encoder, data_dir):
    first = update_index(corpus, encoder=encoder, chunk_size=3, max_chunks=2)
    assert not first.complete and first.indexed == 6
    # the cursor on disk keeps its format, so a build interrupted by another version resumes
    with sqlite3.connect(data_dir / "index" / "building" / "catalog.sqlite") as conn:
        saved = json.loads(conn.execute("select state from progress").fetchone()[0])
    assert set(saved) == {"base", "model_id", "dim", "dtype", "rev", "id", "upto", "done", "foryou"}
    assert saved["done"] == 6 and saved["base"] is None and saved["id"] in {p[0] for p in PAPERS}
    with pytest.raises(IndexNotBuilt):  # a half-built index is never served
        search(corpus, "diffusion", mode="keyword")
    second = update_index(corpus, encoder=encoder, chunk_size=3)
    assert second.complete and second.resumed and second.indexed == len(PAPERS) - 6
    assert set(ids(search(corpus, "Maldacena supergravity", mode="keyword", encoder=encoder))) == {
        "hep-th/9711200"
    }
    gen = store.current()
    assert gen.meta.count == len(PAPERS) and len(gen.vectors) == len(PAPERS)


def test_crash_in_a_chunk_loses_only_that_chunk(corpus, encoder):
    class Failing:
        model_id, dim, calls = encoder.model_id, encoder.dim, 0

        def encode_documents(self, texts, **_):
            Failing.calls += 1
            if Failing.calls == 3:
                raise KeyboardInterrupt  # as if killed while embedding the third chunk
            return encoder.encode_documents(texts)

    with pytest.raises(KeyboardInterrupt):
        update_index(corpus, encoder=Failing(), chunk_size=3)
    report = update_index(corpus, encoder=encoder, chunk_size=3)
    assert report.resumed and report.indexed == len(PAPERS) - 6


def test_incremental_update_and_new_generation(indexed, encoder, data_dir):
    before = store.current()
    assert update_index(indexed, encoder=encoder).indexed == 0  # nothing changed: no new generation
    write_batch(indexed, [record("2401.04088", "Mixtral of Experts",
                                 "We introduce Mixtral 8x7B, a sparse mixture of experts language model.",
                                 ["Albert Q. Jiang"], ["cs.LG", "cs.CL"], date(2024, 1, 8))])
    changed = record(*PAPERS[4])
    changed.title = "Attention Is All You Need (revised)"
    changed.version = 7
    write_batch(indexed, [changed])
    report = update_index(indexed, encoder=encoder)
    assert report.indexed == 2 and report.generation != before.folder.name
    after = store.current()
    assert after.meta.count == len(PAPERS) + 1 and len(after.vectors) == len(PAPERS) + 1
    assert ids(search(indexed, "sparse mixture of experts", mode="hybrid", limit=1, encoder=encoder)) == [
        "2401.04088"
    ]
    assert ids(search(indexed, "revised", mode="keyword", encoder=encoder)) == ["1706.03762"]
    assert len(list((data_dir / "index").glob("gen-*"))) <= 2


def test_matrix_holds_every_vector_exactly_across_updates(indexed, encoder):
    """The matrix is what ranks results: each row must be its paper's own vector."""
    from paperfeed.search.encoder import document_text

    def check(papers):
        gen = store.current()
        assert gen.matrix is not None and gen.matrix.rows.dtype == np.int8
        want = encoder.encode_documents([document_text(p.title, p.abstract) for p in papers])
        rows = gen.matrix.get(np.array([gen.key_of(p.arxiv_id) for p in papers]))
        sims = rows @ want.T
        # int8 activations are scaled per batch, so batches differ in the last digits only
        assert np.all(np.diag(sims) > 0.98) and np.all(sims.argmax(axis=1) == np.arange(len(papers)))

    check([record(*p) for p in PAPERS])
    changed = record(*PAPERS[0])
    changed.abstract, changed.version = "A protein folding model that predicts structures from sequences.", 9
    added = record("2401.04088", "Mixtral of Experts", "We introduce Mixtral 8x7B, a sparse mixture of experts.",
                   ["Albert Q. Jiang"], ["cs.LG"], date(2024, 1, 8))
    write_batch(indexed, [changed, added])
    update_index(indexed, encoder=encoder)
    check([changed, added, *(record(*p) for p in PAPERS[1:])])  # old rows carried over, changed ones replaced


def test_semantic_scores_are_exact_cosines(indexed, encoder):
    gen = store.current()
    q = parse("diffusion models for image synthesis")
    _, keys, scores = ranked_keys(gen, q, "semantic", 5, encoder=encoder)
    vec = encoder.encode_query(q.text)
    exact = [float(gen.matrix.get(np.array([k]))[0] @ vec) for k in keys]
    assert np.allclose(scores, exact, atol=1e-5) and list(scores) == sorted(scores, reverse=True)


def test_per_row_int8_keeps_cosines():
    from paperfeed.search import vectors

    vecs = np.random.default_rng(1).standard_normal((500, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    back = vectors.Matrix(*vectors.quantise(vecs)).get(np.arange(500))
    query = vecs[0]
    assert np.abs(back @ query - vecs @ query).max() < 0.01


def test_convex_fusion_scores_keyword_hits_by_their_real_cosine():
    kw = (np.array([1, 2], np.uint64), np.array([10.0, 10.0], np.float32))  # a tie on words
    vec = (np.array([3, 4], np.uint64), np.array([0.9, 0.1], np.float32))  # 1 and 2 past the cut
    cosines = {1: 0.05, 2: 0.6}
    keys, _ = hybrid.fuse(kw, vec, hybrid.Fusion("convex", keyword_weight=0.5, depth=10),
                          lambda ks: np.array([cosines[int(k)] for k in ks], np.float32))
    assert keys.tolist()[:2] == [2, 1]  # the closer in meaning wins the tie
    blind, _ = hybrid.fuse(kw, vec, hybrid.Fusion("convex", keyword_weight=0.5, depth=10))
    assert blind.tolist()[:2] == [1, 2]  # without cosines the tie keeps keyword order


class OtherModel:
    model_id, dim = "some-other-model/torch/128", 384

    def encode_documents(self, texts, **_):
        return np.ones((len(texts), 384), np.float32) / np.sqrt(384)

    def encode_query(self, text):
        return np.ones(384, np.float32) / np.sqrt(384)


def test_another_encoder_is_refused(indexed, encoder):
    write_batch(indexed, [record("2401.00001", "New paper", "Something new.", [], ["cs.LG"], date(2024, 1, 1))])
    with pytest.raises(EncoderMismatch, match="paperfeed index --rebuild"):
        update_index(indexed, encoder=OtherModel())
    with pytest.raises(EncoderMismatch, match="paperfeed index --rebuild"):
        search(indexed, "transformers", mode="semantic", encoder=OtherModel())
    assert search(indexed, "transformers", mode="keyword", encoder=OtherModel()).hits  # words need no model
    report = update_index(indexed, encoder=OtherModel(), rebuild=True)
    assert report.complete and store.current().meta.model_id == OtherModel.model_id


def test_similar_papers(indexed, encoder):
    for arxiv_id, *_ in PAPERS:
        hits = similar(indexed, arxiv_id, limit=4)
        assert arxiv_id not in ids(hits) and len(hits) == 4
    assert ids(similar(indexed, "2312.00752", limit=1)) == ["2111.00396"]
    assert ids(similar(indexed, "2006.11239", limit=1, keyword_weight=0.5)) == ["2105.05233"]
    assert similar(indexed, "9999.99999") == []


def test_similar_cache_follows_the_index(indexed, encoder):
    assert "2401.05000" not in ids(similar(indexed, "2111.00396", limit=3))
    write_batch(indexed, [record("2401.05000", "Structured state space sequence models for long sequences",
                                 "We study structured state space sequence models (S4) on long-range sequence "
                                 "modeling tasks.", ["Albert Gu"], ["cs.LG"], date(2024, 1, 9))])
    update_index(indexed, encoder=encoder)
    assert ids(similar(indexed, "2111.00396", limit=1)) == ["2401.05000"]


def test_search_command(indexed, encoder, monkeypatch):
    monkeypatch.setattr("paperfeed.search.encoder.get_encoder", lambda *a, **k: encoder)
    runner = CliRunner()
    result = runner.invoke(search_command, ["diffusion models", "--limit", "2", "--mode", "keyword"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0].split("\t")[0] in ("2105.05233", "2006.11239")
    result = runner.invoke(search_command, ["transformers", "--json", "--category", "cs.CL"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all("cs.CL" in r["categories"] for r in rows)
    assert runner.invoke(search_command, ['"unbalanced -', "--mode", "keyword"]).exit_code == 0


def test_filtered_vector_search_paths_agree():
    """Kept rows, exact matrix scoring and graph over-fetch return the same allowed top-k."""
    from paperfeed.search import vectors
    from paperfeed.search.store import Allowed

    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((3000, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    graph = vectors.new_index(32, "f16")
    graph.add(np.arange(3000, dtype=np.uint64), vecs)
    matrix = vectors.Matrix(*vectors.quantise(vecs))
    mask = rng.random(3000) < 0.3
    keys = np.flatnonzero(mask).astype(np.uint64)
    query = vecs[7]
    want = keys[np.argsort(-(matrix.get(keys) @ query))[:10]]
    paths = {
        "rows": vectors.search(graph, query, 10, Allowed(mask, keys, matrix.get(keys))),
        "matrix": vectors.search(graph, query, 10, Allowed(mask, keys), matrix),
        "graph": vectors.search(graph, query, 10, Allowed(mask, keys)),
    }
    for name, (found, sims) in paths.items():
        assert mask[found.astype(np.int64)].all(), name
        assert list(sims) == sorted(sims, reverse=True), name
        assert len(set(found.tolist()) & set(want.tolist())) >= 9, name
    assert paths["rows"][0].tolist() == want.tolist() == paths["matrix"][0].tolist()


def test_repeated_filters_reuse_their_papers_and_vectors(indexed, encoder):
    gen = store.current()
    window = parse("diffusion").with_filters(None, date(2020, 1, 1), date(2022, 1, 1))
    kept = gen.allowed(window)
    assert gen.allowed(parse("other words").with_filters(None, date(2020, 1, 1), date(2022, 1, 1))) is kept
    assert gen.allowed(parse("diffusion")) is None  # no filters: everything allowed
    days = [gen.published[int(k)] for k in kept.keys]
    assert kept.keys.size and all(store.day_number(date(2020, 1, 1)) <= d < store.day_number(date(2022, 1, 1))
                                  for d in days)
    assert np.array_equal(kept.rows, gen.matrix.get(kept.keys))


def test_batched_query_embeddings_serve_later_searches(indexed, encoder):
    import paperfeed.search.pipeline as search_pkg

    text = "cat:cs.LG  sparse   mixture of experts after:2020"
    search_pkg._vectors.clear()
    search_pkg.encode_queries([text, text, ""], encoder)
    key = (encoder.model_id, parse(text).text)
    assert list(search_pkg._vectors) == [key]  # parsed free text, once; nothing for an empty query
    assert float(search_pkg._vectors[key] @ encoder.encode_query(parse(text).text)) > 0.98

    class Refuses:
        model_id, dim = encoder.model_id, encoder.dim

        def encode_query(self, text):
            raise AssertionError("the query was embedded again")

    assert search(indexed, text, mode="hybrid", encoder=Refuses()).hits


SERVE_ONE_QUERY = """
import json, sys
from paperfeed import db, search
from paperfeed.search import pipeline, store
engine = db.connect()
page = search.search(engine, "state space models for long sequences", limit=2)
found = {
    "search": [h.arxiv_id for h in page.hits],
    "ids": search.ids("diffusion models", mode="semantic", limit=2),
    "similar": [h.arxiv_id for h in search.similar(engine, "2312.00752", limit=1)],
    "vector": pipeline.query_vector(store.current(), "protein folding").tolist(),
    "loaded": sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules),
}
print(json.dumps(found))
"""


def test_a_fresh_process_searches_without_torch_or_transformers(indexed, encoder, data_dir, db_url):
    """Serving needs only the ONNX export and its tokenizer, even with the device left on auto."""
    import os
    import subprocess
    import sys

    (data_dir / "models").symlink_to(encoder.model_file.parent.parent)  # the session's export
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_DATABASE_URL": db_url,
           "PAPERFEED_EMBEDDING_DEVICE": "auto", "PAPERFEED_EMBEDDING_VARIANT": ""}
    done = subprocess.run([sys.executable, "-c", SERVE_ONE_QUERY], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["loaded"] == []
    assert set(found["search"]) == {"2312.00752", "2111.00396"}
    assert set(found["ids"]) <= {"2105.05233", "2006.11239"} and found["ids"]
    assert found["similar"] == ["2111.00396"]
    # the same vector as the encoder that built the index gives
    assert np.allclose(found["vector"], encoder.encode_query("protein folding"), atol=1e-6)


LONG = " ".join(
    f"Sentence {i} of a long abstract about selective state space models, recurrent scans and hardware-aware "
    "kernels for language, audio and genomics." for i in range(12))


def test_for_you_vectors_are_a_shorter_pass_of_the_same_model(corpus, encoder, monkeypatch):
    from paperfeed.recommend import source
    from paperfeed.search.encoder import document_text

    long = record("2405.21060", "Mamba-2", LONG, ["Albert Gu"], ["cs.LG"], date(2023, 12, 1))
    write_batch(corpus, [long])
    from paperfeed.search.encoder import foryou_encoder

    update_index(corpus, encoder=encoder)  # the default PAPERFEED_FORYOU_VARIANT, onnx/128
    gen = store.current()
    short, full = foryou_encoder(encoder), encoder
    assert gen.meta.foryou_model_id == short.model_id == encoder.model_id.rsplit("/", 2)[0] + "/onnx/128"
    text = document_text(long.title, long.abstract)
    assert len(short._tokenize([text])[0]) == 128 < len(full._tokenize([text])[0])
    ids_, vecs, _ = source.index_vectors([long.arxiv_id, PAPERS[0][0]])
    want = short.encode_documents([text, document_text(PAPERS[0][1], PAPERS[0][2])])
    assert ids_ == [long.arxiv_id, PAPERS[0][0]]
    assert np.all(np.diag(vecs @ want.T) > 0.98)
    search_row = gen.matrix.get(np.array([gen.key_of(long.arxiv_id)]))[0]
    assert float(vecs[0] @ search_row) < 0.99  # not the search vector: another text length
    # the twin made from the search encoder is the encoder `onnx/128` builds on its own
    from paperfeed.search.encoder import get_encoder

    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(encoder.model_file.parent.parent.parent))  # the session's export
    alone = get_encoder(variant="onnx/128")
    assert alone.model_id == short.model_id and alone._tokenize([text]) == short._tokenize([text])
    assert float(alone.encode_documents([text])[0] @ want[0]) > 0.9999


def test_for_you_vectors_across_updates_and_an_index_without_them(corpus, encoder, monkeypatch):
    """An index without For-you vectors keeps ranking with its search vectors until a rebuild:
    one encoder's vectors, never a mix of two."""
    from paperfeed.recommend import source
    from paperfeed.search.encoder import document_text, foryou_encoder

    short = foryou_encoder(encoder)
    old = record("2405.21060", "Mamba-2", LONG, ["Albert Gu"], ["cs.LG"], date(2024, 5, 31))
    write_batch(corpus, [old])
    monkeypatch.setenv("PAPERFEED_FORYOU_VARIANT", "")  # an index from before: no second pass
    update_index(corpus, encoder=encoder)
    gen = store.current()
    assert gen.meta.foryou_model_id is None and gen.foryou_matrix is None
    _, before, _ = source.index_vectors([old.arxiv_id])
    assert np.allclose(before, gen.matrix.get(np.array([gen.key_of(old.arxiv_id)]), unit=True), atol=1e-6)  # search vectors
    raw = gen.matrix.get(np.array([gen.key_of(old.arxiv_id)]))  # the stored row, its length ~1 but not exactly
    assert np.allclose(before, raw / np.linalg.norm(raw), atol=1e-6) and abs(np.linalg.norm(before) - 1) < 1e-6
    old_short = short.encode_documents([document_text(old.title, old.abstract)])[0]
    assert float(before[0] @ old_short) < 0.99

    added = record("2401.04088", "Mixtral of Experts", LONG.replace("state space", "mixture of experts"),
                   ["Albert Q. Jiang"], ["cs.LG"], date(2024, 1, 8))
    write_batch(corpus, [added])
    monkeypatch.delenv("PAPERFEED_FORYOU_VARIANT")  # the upgrade: no second pass until a rebuild
    update_index(corpus, encoder=encoder)
    gen = store.current()
    assert gen.meta.foryou_model_id is None and gen.foryou_matrix is None  # never two encoders in one matrix
    _, both, _ = source.index_vectors([old.arxiv_id, added.arxiv_id])
    assert float(both[0] @ before[0]) > 0.99  # both papers keep their search vectors until a rebuild
    assert np.allclose(both[1], gen.matrix.get(np.array([gen.key_of(added.arxiv_id)]), unit=True)[0], atol=1e-6)
    added_short = short.encode_documents([document_text(added.title, added.abstract)])[0]
    assert float(both[1] @ added_short) < 0.99

    update_index(corpus, encoder=encoder, rebuild=True)  # a rebuild gives every paper its own
    assert store.current().meta.foryou_model_id == short.model_id
    _, rebuilt, _ = source.index_vectors([old.arxiv_id, added.arxiv_id])
    assert float(rebuilt[0] @ old_short) > 0.995 and float(rebuilt[1] @ added_short) > 0.995

    write_batch(corpus, [record("2402.00001", "Another", "A short abstract on kernels.", ["X Y"], ["cs.LG"],
                                date(2024, 2, 1))])
    update_index(corpus, encoder=encoder)  # the same encoder again: the base's For-you rows carry over
    _, again, _ = source.index_vectors([added.arxiv_id])
    assert float(again[0] @ rebuilt[1]) > 0.9999


def test_many_ids_find_the_keys_the_catalogue_queries_find(indexed, monkeypatch):
    """`keys_of` for many ids at once (a digest batch's libraries) reads the whole catalogue into
    memory: it must find exactly what the per-500 queries find, unknown and odd ids included."""
    gen = store.current()
    known = [a for a, _ in gen.catalog.execute("select arxiv_id, key from docs")]
    assert len(known) >= 10
    asked = known[::2] + ["nope", known[0] + "x", known[0][:-1], "", "é/1", known[1], known[0]]
    by_queries = gen.keys_of(asked)
    assert set(by_queries) == set(known[::2]) | {known[1]}
    expected = [by_queries.get(a, -1) for a in asked]  # in order, repeats kept, -1: not held
    assert gen.key_array(asked).tolist() == expected
    assert "_key_table" not in gen.__dict__  # a few ids: the catalogue queries
    monkeypatch.setattr(store, "BULK_KEYS", 1)
    fresh = store.Generation(gen.folder)
    assert fresh.key_array(asked).tolist() == expected
    assert fresh.keys_of(asked) == by_queries
    assert "_key_table" in fresh.__dict__  # the bulk path answered
