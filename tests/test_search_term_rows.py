"""
The tf-idf rows `paperfeed index` stores with a generation (`search.term_rows`)
and "For you" reads: one corpus-wide term space, a row for every indexed paper,
new rows in the same space on an incremental update, read back by the window
and the profiles instead of re-tokenising, and the fitted path kept for an
index built before rows were kept (which the next update fills).
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import numpy as np
import pytest

from tests.foryou_support import NOW, OFF_TOPIC, ON_TOPIC, SAVED, TOPIC, load, save_library
from tests.library_support import add_user
from tests.webdata import add_paper

search = pytest.importorskip("paperfeed.search")

from paperfeed import recommend  # noqa: E402
from paperfeed.recommend import source  # noqa: E402
from paperfeed.search import store, term_rows  # noqa: E402
from paperfeed.search.term_space import FOR_YOU, TermSpace, paper_text  # noqa: E402

TEXTS = {a: paper_text(t, ab) for a, t, ab in SAVED} | {a: paper_text(t, ab) for a, t, ab, _ in ON_TOPIC + OFF_TOPIC}


def stored_rows(gen, ids):
    keys = gen.keys_of(ids)
    return gen.term_rows.get([keys[i] for i in ids])


def dense(m) -> np.ndarray:
    return np.asarray(m.todense())


@pytest.fixture
def reader(engine, data_dir):
    load(engine)
    uid = add_user(engine, "ada")
    save_library(engine, uid)
    return uid


def test_the_index_stores_a_row_for_every_paper_in_one_corpus_space(engine, reader):
    gen = store.current()
    rows = gen.term_rows
    assert rows is not None and len(rows.segments) == 1  # the build's chunks, merged
    ids = sorted(TEXTS)
    # the space is fitted on the corpus (here all of it: fewer than term_rows.SAMPLE papers)
    fitted = TermSpace.fit([TEXTS[i] for i in ids], **FOR_YOU)
    assert sorted(map(str, rows.space.terms)) == sorted(map(str, fitted.terms))
    got = stored_rows(gen, ids)
    assert got.shape == (len(ids), len(rows.space.terms))
    assert np.allclose(dense(got), dense(rows.space.rows([TEXTS[i] for i in ids])), atol=1e-6)
    norms = np.linalg.norm(dense(got), axis=1)  # unit rows; a paper with no term seen twice has none
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5) and (norms > 0).sum() >= len(ids) // 2


def test_window_and_profile_read_the_stored_rows(engine, reader):
    gen = store.current()
    with engine.connect() as conn:
        win = source.window(conn, NOW - timedelta(days=7))
        prof = source.profile(conn, reader, win)
    assert win.space is gen.term_rows.space
    assert np.array_equal(dense(win.terms), dense(stored_rows(gen, win.ids)))
    assert prof.saved_ids and np.array_equal(dense(prof.terms), dense(stored_rows(gen, prof.saved_ids)))


def test_stored_rows_rank_as_rows_made_from_text(engine, reader):
    """Reading rows is only a shortcut: the same space's rows made from the texts rank the same, why-lines included."""
    with engine.connect() as conn:
        win = source.window(conn, NOW - timedelta(days=7))
        prof = source.profile(conn, reader, win)
    space = win.space
    made_win = recommend.Window.build(win.ids, win.vectors, categories=win.categories, authors=win.authors,
                                      upvotes=win.upvotes, texts=[TEXTS[i] for i in win.ids], space=space,
                                      key_terms=win.key_terms)
    made_prof = recommend.Profile.build(prof.saved_ids, prof.vectors, saved_terms=space.rows(
        [TEXTS[i] for i in prof.saved_ids]), saved_titles=prof.titles, saved_key_terms=prof.key_terms)
    a = [(r.arxiv_id, r.why()) for r in recommend.rank(win, prof, limit=20)]
    b = [(r.arxiv_id, r.why()) for r in recommend.rank(made_win, made_prof, limit=20)]
    assert a == b
    assert {i for i, _ in a[:3]} == TOPIC and any(line.startswith("Shares ") for line in a[0][1])


def test_digest_batch_profiles_equal_one_reader_profiles(engine, reader):
    """Readers read together (their papers in one go, each a slice of it) get the profiles they get
    read alone: a paper two of them saved, dismissed papers, one not indexed, a reader with none."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from paperfeed.library import saved
    from paperfeed.models import Dismissal

    other, third, dismisser, unindexed = (add_user(engine, n) for n in ("bob", "cy", "di", "ed"))
    off = [a for a, *_ in OFF_TOPIC]
    add_paper(engine, "2612.09999", "Added after the index was built")
    add_paper(engine, "2612.09998", "Also added after the index was built")
    with engine.begin() as conn:
        saved.save(conn, other, SAVED[0][0])  # ada saved it too
        saved.save(conn, third, off[0])
        saved.save(conn, unindexed, "2612.09998")
        conn.execute(insert(Dismissal.__table__), [
            {"user_id": u, "arxiv_id": a, "created_at": datetime.now(UTC)}
            for u, a in ((other, off[1]), (other, "2612.09999"), (reader, off[2]), (dismisser, off[3]))])
    everyone = (reader, other, third, dismisser, unindexed)
    with engine.connect() as conn:
        win = source.window(conn, NOW - timedelta(days=7))
        batch = source.profiles(conn, [reader, other, 999_999, third, dismisser, unindexed], win)
        one = {u: source.profile(conn, u, win) for u in everyone}
    assert batch[999_999].empty
    assert batch[dismisser].saved_ids == [] and len(batch[dismisser].dismissed_vectors) == 1
    assert batch[unindexed].saved_ids == [] and batch[unindexed].terms is None  # held nowhere in the index
    for u in everyone:
        b, o = batch[u], one[u]
        assert b.saved_ids == o.saved_ids and b.dismissed_ids == o.dismissed_ids
        assert np.array_equal(b.vectors, o.vectors) and np.array_equal(b.dismissed_vectors, o.dismissed_vectors)
        for got, alone in ((b.terms, o.terms), (b.terms_all, o.terms_all)):
            assert (got is None) == (alone is None) and (got is None or np.array_equal(dense(got), dense(alone)))
        if b.saved_ids:
            assert np.array_equal(dense(b.terms), dense(stored_rows(store.current(), b.saved_ids)))
    assert batch[other].saved_ids == [SAVED[0][0]] and batch[third].saved_ids == [off[0]]
    assert batch[other].dismissed_ids == {off[1], "2612.09999"}  # hidden even when not indexed
    assert len(batch[other].dismissed_vectors) == 1 and len(batch[reader].dismissed_vectors) == 1
    assert np.array_equal(dense(batch[other].dismissed_terms), dense(stored_rows(store.current(), [off[1]])))


def test_vectors_keep_the_order_asked_when_some_come_from_the_graph():
    """An index whose matrix lacks some papers reads those from the graph; every place asked for
    (an id may be asked twice) gets its own row, in the order asked."""

    def row(key):  # a unit row that says its key: its angle
        return np.asarray([np.cos(key / 10), np.sin(key / 10), 0.0], np.float32)

    def key_of(vecs):
        return np.rint(np.arctan2(vecs[:, 1], vecs[:, 0]) * 10).astype(int).tolist()

    class Matrix:
        def have(self, keys):
            return np.asarray(keys) % 2 == 0  # odd keys only in the graph

        def get(self, keys, unit=False):
            return np.stack([row(k) for k in keys])

    class Graph:
        def contains(self, key):
            return key != 7

        def get(self, key, dtype):
            return (row(key) * 3).astype(dtype)  # not unit: the graph's rows are scaled to length 1

    class Gen:
        meta = type("Meta", (), {"dim": 3})()
        foryou_matrix, matrix, vectors, id = Matrix(), None, Graph(), "g"

    ids = ["a", "b", "x", "c", "b", "d", "e"]
    keys = {"a": 2, "b": 3, "c": 4, "d": 7, "e": 5}  # x: not indexed; d: in neither
    at, vecs = source._vectors_at(Gen(), np.asarray([keys.get(a, -1) for a in ids], np.int64))
    assert at.tolist() == [0, 1, 3, 4, 6]
    assert key_of(vecs) == [2, 3, 4, 3, 5] and np.allclose(np.linalg.norm(vecs, axis=1), 1)
    assert [ids[i] for i in at.tolist()] == ["a", "b", "c", "b", "e"]

    class GraphOnly(Gen):  # an index built before the matrix format
        foryou_matrix = None

    at, vecs = source._vectors_at(GraphOnly(), np.asarray([keys.get(a, -1) for a in ids], np.int64))
    assert at.tolist() == [0, 1, 3, 4, 6] and key_of(vecs) == [2, 3, 4, 3, 5]


def test_a_profile_from_the_database_explains_later_as_one_with_titles_explains_now(engine, reader):
    """Profiles read from the database hold no titles or key terms; `source.rank` (and the digest)
    name shared terms after ranking, with the named saved papers' details read then, and give the
    ranking and why-lines of a profile built with every detail."""
    from paperfeed.recommend import ranking

    with engine.connect() as conn:
        win = source.window(conn, NOW - timedelta(days=7))
        bare = source.profile(conn, reader, win)
        details = source.about(conn, bare.saved_ids)
        later = source.rank(conn, win, bare, limit=20)
        [unexplained] = ranking.rank_many(win, [bare], limit=20, explain_now=False)
    full = recommend.Profile.build(bare.saved_ids, bare.vectors, saved_terms=bare.terms,
                                   saved_titles=[details[i][0] for i in bare.saved_ids],
                                   saved_key_terms=[details[i][1] for i in bare.saved_ids])
    assert set(bare.titles) == {""} and bare.key_terms is None
    assert unexplained[0].pending is not None and unexplained[0].terms == []  # nothing named yet
    now = [(r.arxiv_id, r.why()) for r in recommend.rank(win, full, limit=20)]
    assert [(r.arxiv_id, r.why()) for r in later] == now
    assert any(line.startswith("Shares ") for _, lines in now[:3] for line in lines)
    assert any(f"“{t}”" in lines[0] for _, lines in now[:3] for t, _ in details.values())


def test_an_update_adds_rows_in_the_same_space_and_keeps_the_others(engine, reader):
    before = store.current()
    old_terms = list(map(str, before.term_rows.space.terms))
    old = dense(stored_rows(before, sorted(TEXTS)))
    add_paper(engine, "2611.00099", "Selective State Space Models for Protein Sequences",
              abstract="A selective state space model with a parallel scan reads long protein sequences.",
              published=NOW - timedelta(hours=3))
    # a changed paper gets its new text's row (the later segment wins)
    add_paper(engine, "2611.00008", "Monetary Policy Shocks and State Space Models",
              abstract="A state space model of household consumption after interest rate shocks.",
              published=NOW - timedelta(days=1, hours=7))
    search.update_index(engine)
    after = store.current()
    assert after.folder != before.folder
    assert len(after.term_rows.segments) == len(before.term_rows.segments) + 1  # the base's, linked, and one
    space = after.term_rows.space
    assert list(map(str, space.terms)) == old_terms  # no refit on an update
    texts = dict(TEXTS, **{"2611.00008": paper_text("Monetary Policy Shocks and State Space Models",
                                                    "A state space model of household consumption after interest "
                                                    "rate shocks.")})
    ids = sorted(texts)
    got = dense(stored_rows(after, ids + ["2611.00099"]))
    new_text = paper_text("Selective State Space Models for Protein Sequences",
                          "A selective state space model with a parallel scan reads long protein sequences.")
    assert np.allclose(got[-1], dense(space.rows([new_text]))[0], atol=1e-6) and got[-1].any()
    assert np.allclose(got[:-1], dense(space.rows([texts[i] for i in ids])), atol=1e-6)
    unchanged = [n for n, i in enumerate(ids) if i != "2611.00008"]
    assert np.array_equal(got[unchanged], old[unchanged])
    with engine.connect() as conn:
        win = source.window(conn, NOW - timedelta(days=7))
        prof = source.profile(conn, reader, win)
    assert win.space is space
    recs = recommend.rank(win, prof, limit=4)
    assert "2611.00099" in {r.arxiv_id for r in recs}


def test_an_index_without_rows_fits_its_window_then_the_next_update_fills_them(engine, reader):
    gen = store.current()
    shutil.rmtree(gen.folder / term_rows.FOLDER)  # as an index built before rows were kept
    store._open.clear()
    old = store.current()
    assert old.term_rows is None
    with engine.connect() as conn:
        win = source.window(conn, NOW - timedelta(days=7))
        prof = source.profile(conn, reader, win)
    assert win.space is not None and win.terms is not None  # fitted on the window's own texts
    assert len(win.space.terms) < len(TermSpace.fit(list(TEXTS.values()), **FOR_YOU).terms)
    assert np.allclose(dense(prof.terms), dense(win.space.rows([TEXTS[i] for i in prof.saved_ids])), atol=1e-6)
    recs = recommend.rank(win, prof, limit=3)
    assert {r.arxiv_id for r in recs} == TOPIC
    assert all(r.closest and r.why() for r in recs)

    add_paper(engine, "2611.00099", "Graph Neural Networks for Weather", published=NOW - timedelta(hours=3))
    search.update_index(engine)  # the upgrade: a space, and rows for the papers indexed before
    new = store.current()
    assert new.term_rows is not None
    ids = sorted(TEXTS)
    assert new.term_rows.have(list(new.keys_of(ids).values())).all()
    assert np.allclose(dense(stored_rows(new, ids)), dense(new.term_rows.space.rows([TEXTS[i] for i in ids])),
                       atol=1e-6)


def test_a_space_saved_and_loaded_gives_the_same_rows(tmp_path):
    texts = [t for t in TEXTS.values()] * 2
    space = TermSpace.fit(texts, **FOR_YOU)
    space.save(tmp_path / "terms")
    loaded = TermSpace.load(tmp_path / "terms")
    probe = texts + ["an unseen text about selective scans", ""]
    assert list(map(str, loaded.terms)) == list(map(str, space.terms))
    assert (space.rows(probe) != loaded.rows(probe)).nnz == 0
    assert TermSpace.load(tmp_path / "nothing") is None


def test_rows_across_segments_come_back_in_the_asked_order(tmp_path):
    texts = list(TEXTS.values())
    space = TermSpace.fit(texts, **FOR_YOU)
    writer = term_rows.Writer.start(tmp_path, None, lambda: texts)
    writer.add([5, 1, 9], texts[:3])
    writer.add([2, 1], texts[3:5])  # key 1 again: the later row wins
    rows = term_rows.TermRows.open(tmp_path)
    assert list(rows.have([1, 2, 3, 5, 9, 10, -1])) == [True, True, False, True, True, False, False]
    got = dense(rows.get([9, 1, 5, 2]))
    want = dense(space.rows([texts[2], texts[4], texts[0], texts[3]]))
    assert np.allclose(got, want, atol=1e-6)
    with pytest.raises(KeyError):
        rows.get([3])
    assert term_rows.Writer.start(tmp_path / "empty", None, lambda: []) is None


def test_a_build_merges_its_segments_and_old_ones_past_the_limit(tmp_path, monkeypatch):
    texts = list(TEXTS.values())
    writer = term_rows.Writer.start(tmp_path, None, lambda: texts)
    writer.add([5, 1, 9], texts[:3])  # the base's segment
    writer.add([2, 1], texts[3:5])  # this build's two chunks
    writer.add([9, 7], texts[5:7])
    want = dense(term_rows.TermRows.open(tmp_path).get([1, 2, 5, 7, 9]))
    writer.finish(first_own=2)
    rows = term_rows.TermRows.open(tmp_path)
    assert len(rows.segments) == 2 and list(rows.segments[1]["keys"]) == [1, 2, 7, 9]
    assert np.array_equal(dense(rows.get([1, 2, 5, 7, 9])), want)
    writer.add([3], texts[7:8])
    monkeypatch.setattr(term_rows, "MAX_SEGMENTS", 2)
    writer.finish(first_own=writer.next)  # nothing of its own; three segments: all but the oldest merged
    rows = term_rows.TermRows.open(tmp_path)
    assert len(rows.segments) == 2 and list(rows.segments[1]["keys"]) == [1, 2, 3, 7, 9]
    assert np.array_equal(dense(rows.get([1, 2, 5, 7, 9])), want)
    assert sorted(p.name for p in (tmp_path / term_rows.FOLDER).iterdir() if p.name.startswith(".")) == []


def test_papers_without_a_stored_row_get_one_made_in_the_same_space(tmp_path):
    texts = list(TEXTS.values())
    writer = term_rows.Writer.start(tmp_path, None, lambda: texts)
    writer.add([0, 2], [texts[0], texts[2]])  # key 1 has no row (as a paper indexed before rows were kept)
    stored = term_rows.TermRows.open(tmp_path)
    asked = []

    def texts_of(ids):
        asked.extend(ids)
        return [texts[int(i)] for i in ids]

    got = source._term_rows(stored, ["2", "1", "0"], np.asarray([2, 1, 0]), texts_of)
    assert asked == ["1"]  # only the paper without a row is read and tokenised
    assert np.allclose(dense(got), dense(stored.space.rows([texts[2], texts[1], texts[0]])), atol=1e-6)


def test_a_long_build_keeps_few_segments_as_it_goes(tmp_path):
    """One segment a chunk would be thousands of files (each a file handle once read) at arXiv's size."""
    texts = list(TEXTS.values())
    writer = term_rows.Writer.start(tmp_path, None, lambda: texts)
    for key in range(200):  # 200 chunks of one paper
        writer.add([key], [texts[key % len(texts)]])
    names = term_rows._segments(tmp_path / term_rows.FOLDER)
    assert len(names) < 3 * term_rows.FANOUT  # tiers of FANOUT: 200 = 3*64 + 1*8 + 0: 4 segments
    rows = term_rows.TermRows.open(tmp_path)
    assert all(rows.have(range(200)))
    want = term_rows.TermRows.open(tmp_path).space.rows([texts[k % len(texts)] for k in range(200)])
    assert np.allclose(dense(rows.get(list(range(200)))), dense(want), atol=1e-6)
    writer.finish()
    assert len(term_rows._segments(tmp_path / term_rows.FOLDER)) == 1
