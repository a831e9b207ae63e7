"""Personal access tokens and feed tokens: shown once, stored hashed, dead when revoked, expired or disabled."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from paperfeed.library import collection, tokens
from paperfeed.library.errors import LibraryError, NotFound
from paperfeed.models import AccessToken, User
from tests.library_support import add_user


@pytest.fixture
def ada(engine):
    return add_user(engine, "ada")


def test_a_token_is_shown_once_stored_hashed_and_verifies(engine, ada):
    with engine.begin() as conn:
        new = tokens.create_token(conn, ada, name="laptop")
    assert new.token.startswith("pf_") and len(new.token) > 40
    with engine.connect() as conn:
        row = conn.execute(select(AccessToken)).one()
    assert row.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
    assert new.token not in str(tuple(row)) and row.prefix == new.token[:10]
    with engine.begin() as conn:
        who = tokens.verify(conn, f"Bearer {new.token}")
        assert (who.user_id, who.username, who.scope) == (ada, "ada", "api")
        assert tokens.verify(conn, new.token).user_id == ada
        listed = tokens.list_tokens(conn, ada)
    assert [(t.name, t.prefix) for t in listed] == [("laptop", new.token[:10])]
    assert listed[0].last_used_at is not None
    assert not any(new.token in repr(t) for t in listed)


@pytest.mark.parametrize("bad", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "hf_abcdefghijklmnop",
                                 "pf_" + "x" * 43, "pf_" + "y" * 5000, "Bearer pf_ wrong"])
def test_unknown_tokens_are_none(engine, ada, bad):
    with engine.begin() as conn:
        assert tokens.verify(conn, bad) is None


def test_revoked_expired_and_disabled_tokens_are_dead(engine, ada):
    with engine.begin() as conn:
        revoked = tokens.create_token(conn, ada, name="old")
        expiring = tokens.create_token(conn, ada, expires_in=timedelta(hours=1))
        live = tokens.create_token(conn, ada)
        tokens.revoke(conn, ada, revoked.info.id)
        conn.execute(update(AccessToken).where(AccessToken.id == expiring.info.id)
                     .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        assert tokens.verify(conn, revoked.token) is None
        assert tokens.verify(conn, expiring.token) is None
        assert tokens.verify(conn, live.token) is not None
        conn.execute(update(User).where(User.id == ada).values(disabled_at=datetime.now(UTC)))
        assert tokens.verify(conn, live.token) is None
        with pytest.raises(LibraryError):
            tokens.create_token(conn, ada, expires_at=datetime.now(UTC) - timedelta(days=1))


def test_scopes_do_not_mix_and_feed_tokens_die_with_their_collection(engine, ada):
    bob = add_user(engine, "bob")
    with engine.begin() as conn:
        ideas = collection.create_collection(conn, ada, "Ideas")
        feed = tokens.feed_token(conn, ada, ideas.id)
        api = tokens.create_token(conn, ada)
        scope = f"feed:collection:{ideas.id}"
        assert tokens.verify(conn, feed.token, scope=scope).user_id == ada
        assert tokens.verify(conn, feed.token) is None  # not an API token
        assert tokens.verify(conn, api.token, scope=scope) is None
        with pytest.raises(NotFound):
            tokens.feed_token(conn, bob, ideas.id)  # not bob's collection
        with pytest.raises(NotFound):
            tokens.revoke(conn, bob, api.info.id)
        assert [t.scope for t in tokens.list_tokens(conn, ada, "feed")] == [scope]
        collection.delete_collection(conn, ada, ideas.id)
        assert tokens.verify(conn, feed.token, scope=scope) is None
        foryou = tokens.feed_token(conn, ada)
        assert tokens.verify(conn, foryou.token, scope="feed:foryou").user_id == ada
