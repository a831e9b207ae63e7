"""The "For you" ranking core on small synthetic data: exclusions, follows, dismissals, hidden gems,
and that the why-lines name the saved papers that contribute most (checked independently)."""

from __future__ import annotations

import numpy as np
import pytest

from paperfeed import recommend
from paperfeed.recommend import fit
from paperfeed.recommend.fit import Model
from paperfeed.recommend.profile import prototypes

TOPICS = {
    "ssm": "state space models selective scan sequence modelling long context recurrence",
    "proteins": "protein folding structure prediction amino acid residues contact maps",
    "graphs": "graph neural networks message passing node classification molecules",
    "speech": "speech recognition acoustic models spoken language audio transcription",
}


def corpus(n_per_topic: int = 12, seed: int = 0):
    """Papers in four topics: vectors scattered around a topic direction, text from its words."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(TOPICS), 32))
    ids, vecs, texts, topic_of = [], [], [], []
    for t, (name, words) in enumerate(TOPICS.items()):
        vocab = words.split()
        for i in range(n_per_topic):
            ids.append(f"{name}-{i}")
            vecs.append(centres[t] + 0.6 * rng.standard_normal(32))
            texts.append(" ".join(rng.choice(vocab, size=12)) + f" extra{i % 3}")
            topic_of.append(name)
    return ids, np.array(vecs), texts, topic_of


@pytest.fixture(scope="module")
def data():
    ids, vecs, texts, topic_of = corpus()
    space = recommend.TermSpace.fit(texts)
    authors = [["Ada Lovelace"] if i == "graphs-3" else ["Someone Else"] for i in ids]
    cats = [["cs.CL"] if t == "speech" else ["q-bio.BM"] if t == "proteins" else ["cs.LG"] for t in topic_of]
    upvotes = [(7 * k) % 11 for k in range(len(ids))]
    window = recommend.Window.build(ids, vecs, texts=texts, space=space, authors=authors,
                                    categories=cats, upvotes=upvotes)
    return ids, vecs, texts, space, window


def profile(data, saved, **kw):
    ids, vecs, texts, space, _ = data
    rows = [ids.index(s) for s in saved]
    return recommend.Profile.build(saved, vecs[rows], saved_terms=space.rows([texts[r] for r in rows]),
                                   saved_titles=[f"Title of {s}" for s in saved], **kw)


def test_topic_papers_come_first_and_saved_ones_never(data):
    window = data[4]
    recs = recommend.rank(window, profile(data, ["ssm-0", "ssm-1", "ssm-2"]), limit=9)
    assert [r.arxiv_id.split("-")[0] for r in recs] == ["ssm"] * 9
    assert not {"ssm-0", "ssm-1", "ssm-2"} & {r.arxiv_id for r in recs}
    assert all(a.score >= b.score for a, b in zip(recs, recs[1:], strict=False))
    assert recs[0].why()[0].startswith("Close to “Title of ssm-")
    assert recs[0].terms and set(" ".join(recs[0].terms).split()) <= set(TOPICS["ssm"].split()) | {"extra0",
                                                                                                    "extra1", "extra2"}


def test_why_names_the_saved_papers_that_contribute_most(data):
    """Contributions recomputed here from the formula in fit's docstring, without its code."""
    ids, vecs, texts, space, window = data
    saved = ["ssm-0", "proteins-0", "graphs-0", "ssm-5", "speech-1"]
    for model in (Model(), Model(top_k=2), Model(top_k=None, term_weight=0.0), Model(term_weight=0.6)):
        recs = recommend.rank(window, profile(data, saved), model=model, limit=12)
        unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        t = space.rows(texts).toarray()
        for rec in recs:
            c = ids.index(rec.arxiv_id)
            sims = {}
            for s in saved:
                j = ids.index(s)
                sims[s] = (1 - model.term_weight) * float(unit[c] @ unit[j]) + model.term_weight * float(t[c] @ t[j])
            k = len(saved) if model.top_k is None else model.top_k
            top = sorted(sims, key=sims.get, reverse=True)[:k]
            expected_fit = sum(sims[s] for s in top) / k
            assert rec.fit == pytest.approx(expected_fit, abs=1e-4)
            named = [n.arxiv_id for n in rec.closest]
            positive = [s for s in top if sims[s] > 0][:3]
            assert named == positive
            for n in rec.closest:
                assert n.contribution == pytest.approx(sims[n.arxiv_id] / k, abs=1e-4)


def test_why_names_stored_key_terms_first_among_the_shared_terms(data):
    ids, vecs, texts, space, window = data
    saved = ["ssm-0", "ssm-1", "ssm-2"]
    recs = recommend.rank(window, profile(data, saved), limit=12)
    rec = next(r for r in recs if len(r.terms) >= 2)
    last = rec.terms[-1]  # the shared term that adds least
    c = ids.index(rec.arxiv_id)
    keyed = recommend.Window.build(ids, vecs, texts=texts, space=space,
                                   key_terms=[[last.upper()] if i == c else [] for i in range(len(ids))])
    again = next(r for r in recommend.rank(keyed, profile(data, saved), limit=12) if r.arxiv_id == rec.arxiv_id)
    assert again.terms[0] == last and sorted(again.terms) == sorted(rec.terms)
    # a saved paper's key term counts too, and only the saved papers the line names
    named = [n.arxiv_id for n in rec.closest]
    mine = recommend.Profile.build(saved, vecs[[ids.index(s) for s in saved]],
                                   saved_terms=space.rows([texts[ids.index(s)] for s in saved]),
                                   saved_key_terms=[[last] if s == named[0] else [] for s in saved])
    third = next(r for r in recommend.rank(window, mine, limit=12) if r.arxiv_id == rec.arxiv_id)
    assert third.terms[0] == last


def test_dismissed_papers_are_hidden_and_push_their_neighbours_down(data):
    ids, vecs, _, _, window = data
    saved = ["ssm-0", "graphs-0"]
    before = recommend.rank(window, profile(data, saved), limit=100)
    dismissed = [r.arxiv_id for r in before if r.arxiv_id.startswith("graphs")][:2]
    after = recommend.rank(window, profile(data, saved, dismissed_ids=dismissed,
                                           dismissed_vectors=vecs[[ids.index(d) for d in dismissed]]), limit=100)
    assert not set(dismissed) & {r.arxiv_id for r in after}
    mean_rank = lambda recs: np.mean([i for i, r in enumerate(recs) if r.arxiv_id.startswith("graphs")])  # noqa: E731
    assert mean_rank(after) > mean_rank(before)


def test_follows_add_reasons_and_lift(data):
    window = data[4]
    p = profile(data, ["ssm-0"], authors=["LOVELACE, Ada"], categories=["cs.CL"])
    recs = recommend.rank(window, p, limit=60)
    by_id = {r.arxiv_id: r for r in recs}
    assert "By Ada Lovelace, an author you follow" in by_id["graphs-3"].why()
    assert "In cs.CL, which you follow" in by_id["speech-2"].why()
    assert not by_id["proteins-2"].categories and not by_id["proteins-2"].authors
    plain = {r.arxiv_id: r.score for r in recommend.rank(window, profile(data, ["ssm-0"]), limit=60)}
    assert by_id["graphs-3"].score == pytest.approx(plain["graphs-3"] + fit.DEFAULT.author_bonus, abs=1e-5)
    archive = recommend.rank(window, profile(data, ["ssm-0"], categories=["q-bio"]), limit=60)
    assert {r.arxiv_id for r in archive if r.categories} == {i for i in data[0] if i.startswith("proteins")}
    # the rule of paperfeed.categories: `q` selects q-bio.*, names compare without case
    for followed in (["q"], ["Q-BIO.bm"]):
        prefixed = recommend.rank(window, profile(data, ["ssm-0"], categories=followed), limit=60)
        assert {r.arxiv_id for r in prefixed if r.categories} == {i for i in data[0] if i.startswith("proteins")}


def test_only_follows_still_ranks(data):
    window = data[4]
    recs = recommend.rank(window, recommend.Profile.build([], np.zeros((0, 32)), categories=["cs.CL"]), limit=5)
    assert [r.arxiv_id.split("-")[0] for r in recs] == ["speech"] * 5
    assert recommend.Profile.build([], np.zeros((0, 32))).empty


def test_hidden_gems_put_low_upvote_papers_first_by_fit(data):
    window = data[4]
    p = profile(data, ["proteins-0", "proteins-1"])
    plain = recommend.rank(window, p, limit=60)
    gems = recommend.rank(window, p, limit=60, hidden_gems=True, gem_upvotes=2, gem_pool=10)
    pool = [r for r in plain[:10] if r.score > 0]
    low = [r.arxiv_id for r in pool if r.upvotes <= 2]
    assert low and [r.arxiv_id for r in gems[: len(low)]] == low
    assert all(r.gem for r in gems[: len(low)]) and not any(r.gem for r in gems[len(low):])
    assert gems[0].why()[-1].startswith("Few upvotes yet")
    assert sorted(r.arxiv_id for r in gems) == sorted(r.arxiv_id for r in plain)


def test_paging_and_limits(data):
    window = data[4]
    p = profile(data, ["ssm-0"])
    full = [r.arxiv_id for r in recommend.rank(window, p, limit=20)]
    assert [r.arxiv_id for r in recommend.rank(window, p, limit=10, offset=10)] == full[10:20]
    assert recommend.rank(window, p, limit=-3) == []


def test_large_libraries_use_prototypes_but_score_every_saved_paper(data):
    ids, vecs, *_ = data
    window = data[4]
    saved = [i for i in ids if not i.endswith(("-1", "-2"))]  # 40 saved: more than MAX_PROTOTYPES
    p = profile(data, saved)
    assert len(p.prototypes) == 32
    recs = recommend.rank(window, p, limit=8)
    assert len(recs) == 8 and not set(saved) & {r.arxiv_id for r in recs}
    assert np.allclose(np.linalg.norm(prototypes(p.vectors, 4), axis=1), 1.0, atol=1e-5)


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="2 ids but 3 vectors"):
        recommend.Window.build(["a", "b"], np.ones((3, 4)))
    with pytest.raises(ValueError, match="saved ids"):
        recommend.Profile.build(["a"], np.ones((2, 4)))


def test_rank_many_gives_each_reader_the_page_rank_gives(data):
    """Batched readers (one product for many readers' shortlists) get exactly `rank`'s pages and why-lines."""
    ids, vecs, *_ = data
    window = data[4]
    readers = [
        profile(data, ["ssm-0", "ssm-1", "ssm-2"]),
        profile(data, [i for i in ids if not i.endswith(("-1", "-2"))]),  # prototypes
        profile(data, ["proteins-0"], authors=["Ada Lovelace"], categories=["cs.CL"]),
        recommend.Profile.build([], np.zeros((0, 32)), categories=["cs.CL"]),  # follows only
        profile(data, ["graphs-0", "speech-4"], dismissed_ids=["graphs-1"], dismissed_vectors=vecs[[ids.index("graphs-1")]]),
    ]
    for model, kw in ((Model(shortlist=7), {}), (Model(top_k=None), {"hidden_gems": True}),
                      (fit.DIGEST, {"limit": 5, "offset": 3})):
        # a small batch_cells splits the readers into several batches
        for cells in (len(window) * 32, 10**9):
            pages = list(recommend.rank_many(window, iter(readers), model=model, batch_cells=cells, **kw))
            assert len(pages) == len(readers)
            for reader, got in zip(readers, pages, strict=True):
                want = recommend.rank(window, reader, model=model, **kw)
                assert [r.arxiv_id for r in got] == [r.arxiv_id for r in want] and want
                assert [r.why() for r in got] == [r.why() for r in want]
                assert [r.score for r in got] == pytest.approx([r.score for r in want], abs=1e-6)


def test_prescores_are_each_readers_best_query_cosine(data):
    """`fit.prescores` stacks readers by their number of queries: each column must still be that
    reader's best cosine with every row (in int8: within its quantisation, `int8`), and zero for a
    reader with nothing saved."""
    ids, vecs, *_ = data
    window = data[4]
    readers = [
        profile(data, ["ssm-0", "ssm-1", "ssm-2"]),
        profile(data, [i for i in ids if not i.endswith(("-1", "-2"))]),  # prototypes
        recommend.Profile.build([], np.zeros((0, 32)), categories=["cs.CL"]),
        profile(data, ["graphs-0", "speech-4"]),
        profile(data, ["proteins-0", "proteins-1", "speech-0"]),
    ]
    got = fit.prescores(window, readers, Model(top_k=1))
    assert got.shape == (len(window), len(readers))
    for j, reader in enumerate(readers):
        queries = fit.shortlist_queries(reader, Model(top_k=1))
        want = (window.vectors @ queries.T).max(axis=1) if len(queries) else np.zeros(len(window))
        assert got[:, j] == pytest.approx(want, abs=0.01)
        assert got[:, j] == pytest.approx(fit.prescores(window, [reader], Model(top_k=1))[:, 0], abs=0)
    assert not got[:, 2].any()


def test_the_digest_picks_and_names_from_the_fit_what_the_page_reads_off_its_recommendations(data):
    """The digest keeps a reader's `Fit` and makes a `Recommendation` only for a paper it takes:
    which papers it offers (`personal.fitting`), the saved papers their lines name
    (`ranking.named_saved`) and each paper's lines (`ranking.recommendation_at`) are the page's."""
    from paperfeed.digest.personal import MIN_FIT, fitting
    from paperfeed.recommend import ranking

    ids, vecs, *_ = data
    window = data[4]
    readers = [
        profile(data, ["ssm-0", "ssm-1", "ssm-2"]),
        profile(data, [i for i in ids if not i.endswith(("-1", "-2"))]),
        profile(data, ["proteins-0"], authors=["Ada Lovelace"], categories=["cs.CL"]),
        recommend.Profile.build([], np.zeros((0, 32)), categories=["cs.CL"], authors=["Ada Lovelace"]),
    ]
    offered = 0
    for reader, (same, scored) in zip(readers, ranking.score_many(window, readers, model=fit.DIGEST), strict=True):
        assert same is reader
        page = recommend.rank(window, reader, model=fit.DIGEST, limit=30)
        want = [i for i, r in enumerate(page) if r.fit >= MIN_FIT or (not r.closest and bool(r.authors or r.categories))]
        assert fitting(scored, 30) == want
        offered += len(want)
        assert ranking.named_saved(reader, scored, want) == {n.arxiv_id for i in want for n in page[i].closest}
        for i in want:
            assert ranking.explain(ranking.recommendation_at(window, reader, scored, i)).why() == page[i].why()
    assert offered and fitting(scored, 30)  # some paper offered; the follows-only reader gets the follows


@pytest.mark.parametrize("top_k", [1, 2, 3, fit.FEW_PASSES, fit.FEW_PASSES + 1, 11, 12, None])
def test_top_contributions_are_the_largest_similarities_in_order(top_k):
    """Both ways of picking a row's top k (argmax passes for a few, a sort beyond) give the
    k largest pair similarities, largest first, equal ones by lower saved index, as a full sort says."""
    rng = np.random.default_rng(top_k or 0)
    sim = rng.integers(0, 6, (40, 12)).astype(np.float32) / 5  # many ties
    idx, contribution, pair = fit.top_contributions(sim, top_k)
    k = 12 if top_k is None else min(top_k, 12)
    expected = np.stack([np.lexsort((np.arange(12), -row))[:k] for row in sim])
    assert np.array_equal(idx, expected)
    assert np.array_equal(pair, np.take_along_axis(sim, expected, axis=1))
    assert np.allclose(contribution.sum(axis=1), np.sort(sim, axis=1)[:, ::-1][:, :k].sum(axis=1) / k)
