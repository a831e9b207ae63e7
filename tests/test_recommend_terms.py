"""Keyword features: arxiv-sanity-lite's vectorizer, shared terms, author keys, the lazy package face."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from paperfeed.recommend import baselines, follows, terms


def test_asl_options_are_arxiv_sanity_lites():
    v = terms.vectorizer()
    assert (v.ngram_range, v.max_features, v.sublinear_tf, v.max_df, v.min_df) == ((1, 2), 10_000, True, 0.5, 5)
    assert v.stop_words == "english" and v.strip_accents == "unicode" and v.dtype == np.float32


def test_shared_terms_are_those_adding_most_to_the_cosine():
    texts = ["selective scan state space", "selective scan recurrent", "protein folding", "state of the art"] * 3
    space = terms.TermSpace.fit(texts)
    rows = space.rows(["selective scan state space models", "selective scan state machines"])
    shared = terms.shared_terms(space, rows[0], rows[1])
    assert shared[0] == "selective scan"  # the bigram hides its words
    assert "selective" not in shared and "scan" not in shared
    assert terms.shared_terms(space, rows[0], space.rows(["protein folding"])[0]) == []
    assert abs(terms.cosines(rows, rows)[0, 0] - 1.0) < 1e-5


def test_key_terms_are_named_first_but_only_when_they_added_to_the_score():
    texts = ["selective scan state space", "selective scan recurrent", "protein folding", "kernel method"] * 3
    space = terms.TermSpace.fit(texts, **terms.FOR_YOU)
    a, b = space.rows(["selective scan state space models", "selective scan state space machines"])
    plain = terms.shared_terms(space, a, b)
    assert "state space" in plain and plain[0] != "state space"
    prefer = terms.key_term_forms(space, ["State-Space model", "protein folding"])
    assert {"state space", "space model", "protein folding"} <= prefer
    # spelled as the vectorizer spells terms: stop words out, accents stripped
    assert terms.key_term_forms(space, ["mixture of experts", "Schrödinger equation"]) == {
        "mixture experts", "schrodinger equation"}
    named = terms.shared_terms_weighted(space, terms.row(a, 0), [terms.row(b, 0)], [1.0], prefer=prefer)
    assert named[0] == "state space"  # the key term first
    assert "protein folding" not in named  # a key term that adds nothing is never named
    assert sorted(named) == sorted(plain)  # the same reasons, reordered


def test_tiny_corpora_still_fit():
    space = terms.TermSpace.fit(["one paper only"])
    assert space.rows(["one paper"]).nnz > 0


def test_author_keys_fold_like_the_library():
    assert follows.author_key("Álbert  GU") == "albert gu"
    assert follows.author_key("Gu, Albert") == "albert gu"
    assert follows.author_key("O'Brien, J.-P.") == "j p obrien"
    assert follows.category_matches(["cs.CL", "stat.ML"], frozenset({"stat"})) == ["stat.ML"]


def test_asl_svm_ranks_the_library_topic_first():
    texts = [f"transformer attention language model {i}" for i in range(8)] + [
        f"protein folding residue contact {i}" for i in range(8)]
    x = terms.TermSpace.fit(texts * 3).rows(texts)
    scores = baselines.asl_svm(x, [0])
    assert set(np.argsort(-scores)[:8]) == set(range(8))
    vecs = np.vstack([np.eye(4)[0] + 0.1 * np.random.default_rng(1).standard_normal((8, 4)),
                      np.eye(4)[1] + 0.1 * np.random.default_rng(2).standard_normal((8, 4))])
    log = baselines.logistic(vecs, [0, 1], sample=10)
    assert set(np.argsort(-log)[:8]) == set(range(8))


def test_importing_the_package_loads_no_numeric_library():
    code = "import sys, paperfeed.recommend; print('numpy' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
