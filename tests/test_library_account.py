"""A reader's data download holds everything they saved; deleting the account removes it all."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest
from sqlalchemy import func, insert, select, update

from paperfeed.library import account, collection, follows, saved, tokens
from paperfeed.library.errors import NotFound
from paperfeed.models import (
    AccessToken,
    Collection,
    CollectionPaper,
    DailyEntry,
    Dismissal,
    Follow,
    SavedPaper,
    Subscriber,
    User,
    Vote,
)
from tests.library_support import T0, add_user, load_corpus


@pytest.fixture
def readers(engine):
    """Ada with a library, follows, votes, a submission, tokens and a subscription; Bob with a little."""
    load_corpus(engine)
    ada = add_user(engine, "ada", email="Ada@Example.org", email_verified_at=T0)
    bob = add_user(engine, "bob")
    with engine.begin() as conn:
        ideas = collection.create_collection(conn, ada, "Ideas", "mine", public=True)
        saved.save(conn, ada, "0704.0001", [ideas.id], note="a note\nover two lines")
        saved.save(conn, ada, "0704.0002")
        follows.follow_author(conn, ada, "Albert Gu")
        follows.follow_category(conn, ada, "cs.CL")
        secret = tokens.create_token(conn, ada, name="laptop")
        tokens.feed_token(conn, ada, ideas.id)
        conn.execute(insert(Vote), [{"user_id": ada, "arxiv_id": "0704.0003", "created_at": T0},
                                    {"user_id": bob, "arxiv_id": "0704.0003", "created_at": T0}])
        conn.execute(insert(Dismissal).values(user_id=ada, arxiv_id="0704.0009", created_at=T0))
        conn.execute(insert(DailyEntry).values(day=date(2026, 11, 21), arxiv_id="0704.0004", curated=False,
                                               submitted_by_user=ada, imported_upvotes=0, pinned=False,
                                               hidden=False, created_at=T0))
        conn.execute(insert(Subscriber).values(email="Ada@example.org", status="active", created_at=T0,
                                               categories=["cs.CL"], searches=["mamba"]))
        saved.save(conn, bob, "0704.0001", note="bob's own")
        follows.follow_author(conn, bob, "Albert Gu")
    return ada, bob, secret.token


def test_the_data_export_contains_everything(engine, readers):
    ada, _, secret = readers
    with engine.connect() as conn:
        data = account.export_user_data(conn, ada)
    text = orjson.dumps(data).decode()  # plain JSON types throughout
    assert secret not in text and "token_hash" not in text
    assert data["user"]["username"] == "ada" and data["user"]["email"] == "Ada@Example.org"
    papers = {p["arxiv_id"]: p for p in data["library"]["papers"]}
    assert set(papers) == {"0704.0001", "0704.0002"}
    assert papers["0704.0001"]["note"] == "a note\nover two lines"
    assert data["notes"] == [{"arxiv_id": "0704.0001", "note": "a note\nover two lines"}]
    assert {c["name"] for c in data["collections"]} == {"Ideas", "Reading list"}
    assert next(c for c in data["collections"] if c["name"] == "Ideas")["description"] == "mine"
    assert [(f["kind"], f["key"]) for f in data["follows"]] == [("author", "albert gu"), ("category", "cs.CL")]
    assert [v["arxiv_id"] for v in data["votes"]] == ["0704.0003"]
    assert [d["arxiv_id"] for d in data["dismissals"]] == ["0704.0009"]
    assert data["submissions"] == [{"day": "2026-11-21", "arxiv_id": "0704.0004", "created_at": T0.isoformat()}]
    assert {t["name"] for t in data["tokens"]} == {"laptop", ""} and all("prefix" in t for t in data["tokens"])
    assert data["subscription"]["email"] == "Ada@example.org" and data["subscription"]["searches"] == ["mamba"]
    assert "bob's own" not in text


def test_an_unverified_address_exports_nobody_elses_subscription(engine, readers):
    """Anyone can type another's address into an account: only a verified one brings its subscription."""
    ada, _, _ = readers
    with engine.begin() as conn:
        conn.execute(update(User.__table__).where(User.__table__.c.id == ada).values(email_verified_at=None))
        data = account.export_user_data(conn, ada)
        assert data["subscription"] is None and "mamba" not in orjson.dumps(data).decode()
        account.delete_user(conn, ada, subscription=True)
        assert _count(conn, Subscriber) == 1


def _count(conn, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return conn.execute(query).scalar_one()


def test_delete_user_removes_everything_theirs(engine, readers):
    ada, bob, secret = readers
    with engine.begin() as conn:
        counts = account.delete_user(conn, ada)
    assert counts["saved_papers"] == 2 and counts["follows"] == 2 and counts["access_tokens"] == 2
    with engine.connect() as conn:
        assert _count(conn, User, id=ada) == 0
        for model in (SavedPaper, Follow, AccessToken, Vote, Dismissal, Collection):
            assert _count(conn, model, user_id=ada) == 0, model.__tablename__
        assert _count(conn, CollectionPaper) == 1  # bob's Reading list entry only
        assert conn.execute(select(DailyEntry.submitted_by_user).where(DailyEntry.arxiv_id == "0704.0004")).scalar() is None
        assert _count(conn, Subscriber) == 1  # the address's subscription has its own unsubscribe link
        # bob is untouched
        assert _count(conn, SavedPaper, user_id=bob) == 1 and _count(conn, Vote, user_id=bob) == 1
        assert tokens.verify(conn, secret) is None
    with engine.begin() as conn, pytest.raises(NotFound):
        account.delete_user(conn, ada)


def test_delete_user_with_the_subscription(engine, readers):
    ada, _, _ = readers
    with engine.begin() as conn:
        account.delete_user(conn, ada, subscription=True)
    with engine.connect() as conn:
        assert _count(conn, Subscriber) == 0


def test_a_disabled_account_keeps_its_data_for_export(engine, readers):
    ada, _, _ = readers
    with engine.begin() as conn:
        conn.execute(User.__table__.update().where(User.id == ada).values(disabled_at=datetime.now(UTC)))
        assert account.export_user_data(conn, ada)["user"]["disabled_at"] is not None
