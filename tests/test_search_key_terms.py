"""Key terms (paperfeed/search/key_terms.py): candidates, the embedding scorer with
MMR, and their life in the index: computed per chunk by `paperfeed index`, stored
in `papers.key_terms`, filled in once for papers stored before them."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed import search
from paperfeed.ingest.upsert import write_batch
from paperfeed.models import Paper
from paperfeed.search import key_terms, update_index
from paperfeed.search.commands import index_command
from paperfeed.search.encoder import document_text
from tests.test_search_index import PAPERS, corpus, encoder, record  # noqa: F401 (fixtures)

MAMBA = PAPERS[0]


def texts(title, abstract) -> list[str]:
    return [c.text for c in key_terms.candidates(title, abstract)]


def test_candidates_are_phrases_without_stop_words_numbers_or_math():
    found = texts("Sparse attention for long documents",
                  "We propose a method with $O(n \\log n)$ cost for 10,000-token documents, "
                  "see https://example.org/code. Sparse attention scales; the \\emph{router} learns.")
    assert "sparse attention" in found and "long documents" in found
    for term in found:
        words = term.lower().split()
        assert not set(words) & key_terms._STOP, term  # "attention for long" is no candidate
        assert 1 <= len(words) <= key_terms.MAX_WORDS
        assert not any(ch.isdigit() or ch in "$\\/:." for ch in term), term
    assert "router" in found
    assert not any(w in t.lower().split() for t in found for w in ("emph", "log", "example", "https", "org"))


def test_title_words_count_twice_and_order_is_by_count():
    cands = key_terms.candidates("Graph colouring", "Graph colouring of sparse graphs. Sparse graphs are sparse.")
    counts = {c.key: c.count for c in cands}
    assert counts["graph colouring"] == 3 and counts["sparse graphs"] == 2 and counts["sparse"] == 3
    assert [c.count for c in cands] == sorted((c.count for c in cands), reverse=True)


@pytest.mark.parametrize(
    "title, abstract, key, shown",
    [
        ("Selective State Spaces", "We study selective state spaces.", "selective state spaces", "selective state spaces"),
        ("Selective State Spaces", "Nothing here.", "selective state spaces", "selective state spaces"),
        ("Mamba: Linear-Time Models", "Mamba is fast.", "mamba", "mamba"),  # never mid-sentence: no telling
        ("Mamba: Linear-Time Models", "We train Mamba.", "mamba", "Mamba"),
        ("Sparse attention", "Sparse attention scales.", "sparse attention", "sparse attention"),
        ("Linear-Time Models", "Other words.", "linear-time models", "linear-time models"),
        ("A study of BERT", "Results with BERT and the LHC.", "bert", "BERT"),
        ("Fast sampling", "We run Monte Carlo chains. Monte Carlo is slow.", "monte carlo", "Monte Carlo"),
        ("Fast sampling", "Diffusion is slow. So is diffusion.", "diffusion", "diffusion"),
        ("Fast sampling", "Foundation models are large.", "foundation models", "foundation models"),
        ("Ground States Of GPT-4 Agents", "None.", "gpt-4 agents", "GPT-4 agents"),
    ],
)
def test_spelling_shown(title, abstract, key, shown):
    by_key = {c.key: c.text for c in key_terms.candidates(title, abstract)}
    assert by_key[key] == shown


def test_mmr_prefers_a_new_idea_to_a_near_copy():
    doc = np.array([1.0, 0.0, 0.0])
    near = np.array([0.9, 0.436, 0.0])
    cands = np.array([[1.0, 0.0, 0.0], near / np.linalg.norm(near), [0.7, 0.0, 0.714]], np.float32)
    assert key_terms.mmr(doc, cands, 2, diversity=0.0) == [0, 1]  # relevance alone keeps the near copy
    assert key_terms.mmr(doc, cands, 2, diversity=0.6) == [0, 2]
    assert key_terms.mmr(doc, cands[:0], 2) == []


def test_overlapping_terms_keep_the_longer():
    c = [key_terms.Candidate(t, t, 1, 0) for t in ("selective scan", "scan", "state space", "scanner")]
    assert [t.key for t in key_terms.without_overlaps(c)] == ["selective scan", "state space", "scanner"]


def test_real_terms_of_a_real_abstract(encoder):  # noqa: F811
    _, title, abstract, *_ = MAMBA
    vec = encoder.encode_documents([document_text(title, abstract)])
    terms = key_terms.extract([(title, abstract)], vec, encoder)[0]
    assert 3 <= len(terms) <= key_terms.COUNT
    text = f"{title} {abstract}".lower()
    assert all(t.lower() in text for t in terms)
    assert any("state space" in t.lower() for t in terms), terms
    assert len({t.lower() for t in terms}) == len(terms)
    empty = key_terms.extract([("", ""), (None, "the of and")], encoder.encode_documents(["x", "y"]), encoder)
    assert empty == [[], []]


def stored(engine) -> dict[str, list | None]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Paper.arxiv_id, Paper.key_terms)).all())


def test_indexing_stores_terms_that_find_their_paper(corpus, encoder):  # noqa: F811
    assert set(stored(corpus).values()) == {None}
    update_index(corpus, encoder=encoder, chunk_size=4)
    terms = stored(corpus)
    assert all(t and 1 <= len(t) <= key_terms.COUNT for t in terms.values()), terms
    for arxiv_id, chosen in terms.items():  # the chips' searches: each finds its paper
        found = [arxiv_id in search.ids(t, mode="hybrid", limit=10, encoder=encoder) for t in chosen]
        assert sum(found) >= len(found) - 1, (arxiv_id, chosen, found)
    changed = record(*MAMBA)
    changed.title, changed.version = "Protein folding with attention", 5
    changed.abstract = "We predict protein structures from amino acid sequences with attention."
    write_batch(corpus, [changed])
    assert update_index(corpus, encoder=encoder).indexed == 1
    new_terms = stored(corpus)
    assert any("protein" in t.lower() for t in new_terms[MAMBA[0]]) and new_terms[MAMBA[0]] != terms[MAMBA[0]]
    assert {k: v for k, v in new_terms.items() if k != MAMBA[0]} == {k: v for k, v in terms.items() if k != MAMBA[0]}


def test_papers_stored_before_get_their_terms_once(corpus, encoder, monkeypatch):  # noqa: F811
    """After the upgrade (migration 0009) every stored paper has NULL terms and an index
    that is up to date: the next `paperfeed index` fills them from the index's vectors."""
    update_index(corpus, encoder=encoder)
    first = stored(corpus)
    with corpus.begin() as conn:
        conn.execute(Paper.__table__.update().where(Paper.arxiv_id != MAMBA[0]).values(key_terms=None))

    calls: list[list[str]] = []
    original = encoder.encode_documents

    def counting(texts, **kw):
        calls.append(list(texts))
        return original(texts, **kw)

    monkeypatch.setattr(encoder, "encode_documents", counting)
    monkeypatch.setenv("PAPERFEED_INDEX_CHUNK_SIZE", "4")
    import paperfeed.search.indexer as indexer

    monkeypatch.setattr(indexer.encoders, "get_encoder", lambda *a, **k: encoder)
    result = CliRunner().invoke(index_command, [])
    assert result.exit_code == 0, result.output
    assert f"key terms for {len(PAPERS) - 1} papers that had none" in result.output
    assert "is up to date" in result.output  # nothing was indexed again
    filled = stored(corpus)
    assert filled[MAMBA[0]] == first[MAMBA[0]]  # it had terms: left alone
    # the same terms, chosen with the index's own (int8) vectors: near ties may swap
    shared = sum(len(set(filled[a]) & set(first[a])) for a in first)
    assert shared >= 0.8 * sum(len(t) for t in first.values()), (filled, first)
    documents = {document_text(p[1], p[2]) for p in PAPERS}
    assert len(calls) == 3 and not documents & {t for call in calls for t in call}  # phrases only
    again = CliRunner().invoke(index_command, [])
    assert "key terms" not in again.output and len(calls) == 3  # once
