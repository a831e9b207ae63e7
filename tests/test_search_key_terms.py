"""Key terms (paperfeed/search/key_terms.py): candidates, the tf-idf choice, and
their life in the index: computed by `paperfeed index` for the papers it indexes,
stored in `papers.key_terms`, filled in once for papers stored before them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed import search
from paperfeed.ingest.upsert import write_batch
from paperfeed.models import Paper
from paperfeed.search import key_terms, update_index
from paperfeed.search.commands import index_command
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


def test_choice_weighs_rare_words_longer_phrases_and_never_repeats_a_word():
    cands = key_terms.candidates(
        "Cerebral white matter in preterm infants",
        "We image cerebral white matter and central white matter of preterm infants with diffusion tensors.",
    )
    common = {"white", "matter", "infants", "image", "central"}
    df = lambda word: 900 if word in common else 3  # noqa: E731
    terms = key_terms.choose(cands, df, 1000, count=4)
    assert terms[0] == "cerebral white matter"  # in the title, a rare word, three words long
    assert "central white matter" not in terms and "white matter" not in terms
    words = [w for t in terms for w in t.split()]
    assert len(words) == len(set(words))
    # past three terms, only those scoring half the best: "image" (common, one word) is not one
    assert terms == ["cerebral white matter", "preterm infants", "diffusion tensors"]
    assert key_terms.choose(cands, df, 1000, count=2) == terms[:2]
    assert key_terms.choose([], df, 1000) == []
    assert key_terms.idf(0, 10) > key_terms.idf(5, 10) > key_terms.idf(10, 10) == 1.0


def test_real_terms_from_a_real_index(corpus, encoder):  # noqa: F811
    from paperfeed.search import keyword, store

    update_index(corpus, encoder=encoder, chunk_size=4)
    word_df, docs = keyword.word_frequency(store.current().keyword)
    assert docs == len(PAPERS) and word_df("diffusion") == 2 and word_df("zebra") == 0
    assert word_df("state-space") == min(word_df("state"), word_df("space")) > 0
    _, title, abstract, *_ = MAMBA
    terms = key_terms.extract([(title, abstract)], word_df, docs)[0]
    assert 3 <= len(terms) <= key_terms.COUNT
    text = f"{title} {abstract}".lower()
    assert all(t.lower() in text for t in terms)
    assert any("selective" in t.lower() for t in terms), terms
    assert key_terms.extract([("", ""), (None, "the of and")], word_df, docs) == [[], []]


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
    that is up to date: the next `paperfeed index` fills them in, with no paper embedded."""
    update_index(corpus, encoder=encoder)
    first = stored(corpus)
    with corpus.begin() as conn:
        conn.execute(Paper.__table__.update().where(Paper.arxiv_id != MAMBA[0]).values(key_terms=None))

    calls: list[list[str]] = []
    original = encoder.encode_documents
    monkeypatch.setattr(encoder, "encode_documents", lambda texts, **kw: calls.append(texts) or original(texts, **kw))
    monkeypatch.setenv("PAPERFEED_INDEX_CHUNK_SIZE", "4")
    import paperfeed.search.indexer as indexer

    monkeypatch.setattr(indexer.encoders, "get_encoder", lambda *a, **k: encoder)
    result = CliRunner().invoke(index_command, [])
    assert result.exit_code == 0, result.output
    assert f"key terms for {len(PAPERS) - 1} papers that had none" in result.output
    assert "is up to date" in result.output  # nothing was indexed again
    assert stored(corpus) == first  # the same terms, from the same index
    assert calls == []  # no paper embedded again
    again = CliRunner().invoke(index_command, [])
    assert "key terms" not in again.output  # once
