"""Collections, saving, notes, listing and privacy, against a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from paperfeed.library import collection, listing, saved
from paperfeed.library.errors import LibraryError, NotFound, TooLarge
from paperfeed.models import SavedPaper, User
from tests.library_support import add_user, load_corpus


@pytest.fixture
def ada(engine):
    load_corpus(engine)
    return add_user(engine, "ada")


def test_save_goes_to_the_reading_list_created_on_demand(engine, ada):
    with engine.begin() as conn:
        assert collection.list_collections(conn, ada) == []
        item = saved.save(conn, ada, "https://arxiv.org/abs/0704.0001v2")
        default = collection.default_collection(conn, ada)
        assert default.name == "Reading list" and default.slug == "reading-list" and default.is_default
        assert item.arxiv_id == "0704.0001" and item.collections == [default.id]
        assert [c.papers for c in collection.list_collections(conn, ada)] == [1]


def test_collections_crud_and_the_default_cannot_be_deleted(engine, ada):
    with engine.begin() as conn:
        ideas = collection.create_collection(conn, ada, "Ideas: Mamba & co.", "state spaces")
        assert ideas.slug == "ideas-mamba-co" and not ideas.is_public
        with pytest.raises(LibraryError, match="already have"):
            collection.create_collection(conn, ada, "ideas: mamba & CO.")
        again = collection.create_collection(conn, ada, "Ideas Mamba co")
        assert again.slug == "ideas-mamba-co-2"
        renamed = collection.rename_collection(conn, ada, ideas.id, "Better ideas")
        assert renamed.name == "Better ideas" and renamed.slug == "ideas-mamba-co"  # the URL stays
        assert collection.describe_collection(conn, ada, ideas.id, "new words").description == "new words"
        with pytest.raises(TooLarge):
            collection.create_collection(conn, ada, "x" * 101)
        with pytest.raises(LibraryError):
            collection.create_collection(conn, ada, "   ")
        default = collection.default_collection(conn, ada)
        with pytest.raises(LibraryError, match="cannot be deleted"):
            collection.delete_collection(conn, ada, default.id)
        saved.save(conn, ada, "0704.0002", [ideas.id])
        collection.delete_collection(conn, ada, ideas.id)
        assert saved.get_saved(conn, ada, "0704.0002").collections == []  # still saved
        with pytest.raises(NotFound):
            collection.get_collection(conn, ada, ideas.id)


def test_a_paper_in_several_collections_and_unsave(engine, ada):
    with engine.begin() as conn:
        a = collection.create_collection(conn, ada, "A")
        saved.save(conn, ada, "0704.0003")
        saved.add_to_collection(conn, ada, "0704.0003", a.id)
        saved.add_to_collection(conn, ada, "0704.0003", "B")  # made by name
        info = saved.get_saved(conn, ada, "0704.0003")
        assert len(info.collections) == 3
        assert len(saved.remove_from_collection(conn, ada, "0704.0003", a.id).collections) == 2
        assert saved.unsave(conn, ada, "0704.0003")
        assert saved.get_saved(conn, ada, "0704.0003") is None
        assert not saved.unsave(conn, ada, "0704.0003")
        with pytest.raises(NotFound):
            saved.save(conn, ada, "9999.99999")
        with pytest.raises(NotFound):
            saved.save(conn, ada, "not an id")


def test_notes_keep_line_breaks_and_a_1mb_note_is_refused_keeping_the_old_one(engine, ada):
    with engine.begin() as conn:
        saved.save(conn, ada, "0704.0004", note="line one\r\nline <two> & three\n")
        assert saved.get_saved(conn, ada, "0704.0004").note == "line one\nline <two> & three"
        with pytest.raises(TooLarge, match="at most 10,000 characters"):
            saved.set_note(conn, ada, "0704.0004", "x" * 1_000_000)
        with pytest.raises(TooLarge):
            saved.save(conn, ada, "0704.0004", note="y" * 10_001)
        assert saved.get_saved(conn, ada, "0704.0004").note == "line one\nline <two> & three"
        saved.save(conn, ada, "0704.0004", ["Other"])  # saving again: note and date stay
        assert saved.get_saved(conn, ada, "0704.0004").note == "line one\nline <two> & three"
        with pytest.raises(NotFound):
            saved.set_note(conn, ada, "0704.0005", "not saved")


def test_list_filters_sorts_and_pages(engine, ada):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        ideas = collection.create_collection(conn, ada, "Ideas")
        for n, arxiv_id in enumerate(["0704.0001", "0704.0002", "0704.0003", "0704.0004", "0704.0005"]):
            saved.save(conn, ada, arxiv_id, [ideas.id] if n % 2 else None)
            conn.execute(update(SavedPaper).where(SavedPaper.arxiv_id == arxiv_id).values(saved_at=base + timedelta(days=n)))
        page = listing.list_saved(conn, ada)
        assert page.total == 5 and [i.arxiv_id for i in page.items][:2] == ["0704.0005", "0704.0004"]
        assert [i.arxiv_id for i in listing.list_saved(conn, ada, collection="ideas").items] == ["0704.0004", "0704.0002"]
        # 0704.0002 is math.CO with a cs.CG cross-list; an archive matches its categories
        assert [i.arxiv_id for i in listing.list_saved(conn, ada, category="cs.CG").items] == ["0704.0002"]
        assert [i.arxiv_id for i in listing.list_saved(conn, ada, category="cs").items] == ["0704.0002"]
        assert {i.arxiv_id for i in listing.list_saved(conn, ada, category="math").items} == {"0704.0002", "0704.0004", "0704.0005"}
        window = listing.list_saved(conn, ada, saved_from=date(2026, 1, 2), saved_to=date(2026, 1, 4))
        assert [i.arxiv_id for i in window.items] == ["0704.0003", "0704.0002"]
        titles = [i.title for i in listing.list_saved(conn, ada, sort="title").items]
        assert titles == sorted(titles, key=str.lower)
        published = [i.published for i in listing.list_saved(conn, ada, sort="published").items]
        assert published == sorted(published, reverse=True)
        paged = listing.list_saved(conn, ada, limit=2, offset=4)
        assert paged.total == 5 and len(paged.items) == 1
        assert listing.list_saved(conn, ada, limit=10**9).limit == listing.MAX_LIMIT
        with pytest.raises(LibraryError):
            listing.list_saved(conn, ada, sort="nonsense")
        with pytest.raises(LibraryError):
            listing.list_saved(conn, ada, category="%' OR 1=1 --")
        with pytest.raises(NotFound):
            listing.list_saved(conn, ada, collection="not-mine")


def test_private_collections_are_invisible_to_everyone_else(engine, ada):
    bob = add_user(engine, "bob")
    with engine.begin() as conn:
        secret = collection.create_collection(conn, ada, "Secret")
        saved.save(conn, ada, "0704.0001", [secret.id], note="private thoughts")
        assert collection.public_collection(conn, "ada", "secret") is None
        assert listing.public_page(conn, "ada", "secret") is None
        with pytest.raises(NotFound):
            collection.get_collection(conn, bob, secret.id)
        with pytest.raises(NotFound):
            listing.list_saved(conn, bob, collection=secret.id)
        with pytest.raises(NotFound):
            collection.rename_collection(conn, bob, secret.id, "mine now")
        with pytest.raises(NotFound):
            collection.delete_collection(conn, bob, secret.id)
        collection.set_public(conn, ada, secret.id, True)
        found, page = listing.public_page(conn, "ada", "secret")
        assert found.id == secret.id and [i.arxiv_id for i in page.items] == ["0704.0001"]
        assert page.items[0].note == ""  # notes are never public
        assert collection.public_collection(conn, "bob", "secret") is None
        conn.execute(update(User).where(User.id == ada).values(disabled_at=datetime.now(UTC)))
        assert collection.public_collection(conn, "ada", "secret") is None


def test_saved_state_for_a_page_of_cards(engine, ada):
    with engine.begin() as conn:
        item = saved.save(conn, ada, "0704.0001")
        state = saved.saved_state(conn, ada, ["0704.0001", "0704.0002"])
        assert state == {"0704.0001": item.collections}
        assert conn.execute(select(SavedPaper.arxiv_id)).scalars().all() == ["0704.0001"]
