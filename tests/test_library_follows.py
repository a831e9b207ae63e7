"""Author pages (from the author index), "maybe the same person", and follows."""

from __future__ import annotations

import pytest

from paperfeed.ingest.records import PaperRecord
from paperfeed.ingest.upsert import write_batch
from paperfeed.library import authors, follows
from paperfeed.library.errors import LibraryError
from tests.library_support import add_user, load_corpus


def _paper(arxiv_id: str, names: list[str], year: int, category: str = "cs.LG") -> PaperRecord:
    from datetime import UTC, datetime

    return PaperRecord(arxiv_id=arxiv_id, source="test", title=f"Paper {arxiv_id}", authors=names,
                       abstract="An abstract.", categories=[category], primary_category=category,
                       published=datetime(year, 1, 1, tzinfo=UTC), version=1)


@pytest.fixture
def gu(engine):
    write_batch(engine, [
        _paper("2111.00396", ["Albert Gu", "Karan Goel", "Christopher Ré"], 2021),
        _paper("2312.00752", ["Albert Gu", "Tri Dao"], 2023),
        _paper("2405.21060", ["Tri Dao", "ALBERT GU"], 2024, "cs.CL"),
        _paper("2001.00001", ["A. Gu", "Someone Else"], 2020),
        _paper("2002.00002", ["Alice Gu"], 2020, "q-bio.NC"),
    ])
    return engine


def test_author_page_lists_papers_newest_first_with_coauthors_and_categories(gu):
    with gu.connect() as conn:
        page = authors.author_page(conn, "Albert Gu")
    assert page.key == "albert gu" and page.total == 3
    assert [p.arxiv_id for p in page.papers] == ["2405.21060", "2312.00752", "2111.00396"]
    assert page.name == "ALBERT GU" and set(page.spellings) == {"ALBERT GU", "Albert Gu"}
    assert [(c.key, c.papers) for c in page.coauthors][0] == ("tri dao", 2)
    assert {c.name for c in page.coauthors} == {"Tri Dao", "Karan Goel", "Christopher Ré"}
    assert dict(page.categories) == {"cs.LG": 2, "cs.CL": 1}
    # same surname and first initial: maybe the same person; "A. Gu" is a key of its own
    assert {(m.key, m.name) for m in page.maybe_same} == {("a gu", "A. Gu"), ("alice gu", "Alice Gu")}


def test_author_page_bounds_and_unknown_authors(gu):
    with gu.connect() as conn:
        assert authors.author_page(conn, "Nobody Here") is None
        assert authors.author_page(conn, "  ...  ") is None
        page = authors.author_page(conn, "albert gu", limit=1, offset=1)
        assert [p.arxiv_id for p in page.papers] == ["2312.00752"] and page.total == 3
        assert len(authors.author_page(conn, "albert gu", limit=10**6).papers) == 3


def test_author_page_on_the_sample_corpus(engine):
    load_corpus(engine)
    with engine.connect() as conn:
        page = authors.author_page(conn, "Balázs, C.")
    assert page.key == "c balazs" and [p.arxiv_id for p in page.papers] == ["0704.0001"]


def test_follow_and_unfollow_authors_and_categories(engine):
    ada = add_user(engine, "ada")
    with engine.begin() as conn:
        f = follows.follow_author(conn, ada, "Albert  Gu")
        assert (f.kind, f.key, f.label) == ("author", "albert gu", "Albert Gu")
        follows.follow_author(conn, ada, "ALBERT GU")  # the same key: one follow
        follows.follow_category(conn, ada, "cs.CL")
        follows.follow_category(conn, ada, "hep-th")
        assert [(x.kind, x.key) for x in follows.list_follows(conn, ada)] == [
            ("author", "albert gu"), ("category", "cs.CL"), ("category", "hep-th")]
        assert follows.is_following(conn, ada, "author", "Gu, Albert")
        assert follows.unfollow(conn, ada, "author", "albert gu")
        assert not follows.unfollow(conn, ada, "author", "albert gu")
        assert [x.key for x in follows.list_follows(conn, ada, "author")] == []
        for bad in [("category", "cs.CL; drop table"), ("author", "  "), ("journal", "Nature")]:
            with pytest.raises(LibraryError):
                follows.follow(conn, ada, *bad)
