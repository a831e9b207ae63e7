"""Author and title keys, and the author/title index the ingest keeps with the papers."""

from __future__ import annotations

import re
import unicodedata

import pytest
from sqlalchemy import func, select, update

from paperfeed.ingest import paper_index
from paperfeed.ingest.records import PaperRecord
from paperfeed.ingest.upsert import write_batch
from paperfeed.models import Paper, PaperAuthor, PaperTitle
from paperfeed.names import author_key, fold, short_key, title_hash, title_key
from tests.library_support import load_corpus


@pytest.mark.parametrize(("name", "key"), [
    ("Albert Gu", "albert gu"),
    ("ALBERT  GU", "albert gu"),
    ("Álbert Gu", "albert gu"),
    ("Gu, Albert", "albert gu"),
    ("A. Gu", "a gu"),
    ("C. -P. Yuan", "c p yuan"),
    ("P. T. O'Brien", "p t obrien"),
    ("P. T. O’Brien", "p t obrien"),
    ("Bal{\\'a}zs, C.", "c balazs"),
    ("C. Balázs", "c balazs"),
    ("Paul Erd\\H{o}s", "paul erdos"),
    ("Søren Kierkegaard", "soren kierkegaard"),
    ("Gu, Jr.", "gu jr"),
    ("李明", "李明"),
])
def test_author_key_folds_accents_case_and_punctuation_of_the_full_name(name, key):
    assert author_key(name) == key


def test_initials_are_another_key_with_the_same_short_key():
    assert author_key("A. Gu") != author_key("Albert Gu")
    assert short_key(author_key("A. Gu")) == short_key(author_key("Albert Gu")) == "gu a"
    assert short_key("albert gu jr") == "gu a"
    assert short_key("madonna") == "madonna"


def _slow_fold(text: str) -> str:
    """The Unicode path of `fold`, for checking its ASCII fast path."""
    text = text.translate(str.maketrans("", "", "{}$\\"))
    text = unicodedata.normalize("NFKD", text)
    text = re.sub(r"['’‘`´]", "", text.casefold())
    return re.sub(r"[\W_]+", " ", text).strip()


@pytest.mark.parametrize("text", ["Hello, World!", "a_b-c.d  e", "O'Neil's {GAN}s", "x$y$z", "  ", "Tab\tand\nnewline"])
def test_ascii_fast_path_agrees_with_the_unicode_path(text):
    assert fold(text) == _slow_fold(text)


@pytest.mark.parametrize(("a", "b"), [
    ("{Attention} {Is} {All} You Need", "Attention is all you need"),
    ("A transcendental approach to Koll\\'ar's injectivity theorem", "A transcendental approach to Kollár’s injectivity theorem"),
    ("From dyadic $\\Lambda_{\\alpha}$ to $\\Lambda_{\\alpha}$",
     "From dyadic \\${\\textbackslash}{Lambda}\\_\\{{\\textbackslash}alpha\\}\\$ to \\${\\textbackslash}{Lambda}\\_\\{{\\textbackslash}alpha\\}\\$"),
    ("The \\emph{Ising} model", "The Ising model"),
])
def test_title_key_matches_zotero_spellings(a, b):
    assert title_key(a) == title_key(b)
    assert title_hash(a) == title_hash(b)


def test_the_ingest_indexes_authors_and_titles(engine):
    load_corpus(engine)
    with engine.connect() as conn:
        authors = sum(len(a) for a in conn.execute(select(Paper.authors)).scalars())
        assert conn.execute(select(func.count()).select_from(PaperAuthor)).scalar() == authors
        assert conn.execute(select(func.count()).select_from(PaperTitle)).scalar() == 200
        rows = conn.execute(select(PaperAuthor.key, PaperAuthor.position).where(PaperAuthor.arxiv_id == "0704.0001")
                            .order_by(PaperAuthor.position)).all()
    assert [k for k, _ in rows] == ["c balazs", "e l berger", "p m nadolsky", "c p yuan"]


def test_an_update_that_changes_authors_or_title_reindexes_the_paper(engine):
    load_corpus(engine)
    record = PaperRecord(arxiv_id="0704.0002", source="arxiv-api", version=3, title="A New Title",
                         authors=["Ileana Streinu", "Louis Theran", "Ada Lovelace"], abstract="A new abstract.")
    write_batch(engine, [record])
    with engine.connect() as conn:
        keys = conn.execute(select(PaperAuthor.key).where(PaperAuthor.arxiv_id == "0704.0002")
                            .order_by(PaperAuthor.position)).scalars().all()
        digest = conn.execute(select(PaperTitle.title_hash).where(PaperTitle.arxiv_id == "0704.0002")).scalar()
    assert keys == ["ileana streinu", "louis theran", "ada lovelace"]
    assert digest == title_hash("a new title")


def test_rebuild_restores_the_index(engine):
    load_corpus(engine)
    with engine.connect() as conn:
        before = conn.execute(select(PaperAuthor).order_by(PaperAuthor.arxiv_id, PaperAuthor.position)).all()
    with engine.begin() as conn:
        conn.execute(update(PaperAuthor).values(key="wrong"))
        assert paper_index.rebuild(conn, batch_size=37) == 200
    with engine.connect() as conn:
        assert conn.execute(select(PaperAuthor).order_by(PaperAuthor.arxiv_id, PaperAuthor.position)).all() == before
