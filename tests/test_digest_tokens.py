"""E-mailed links survive a key rotation: `PAPERFEED_EMAIL_TOKEN_KEYS`, first key signs, all verify."""

from __future__ import annotations

import secrets

import pytest

from paperfeed.digest import subscriptions
from paperfeed.settings import SettingError, validate


@pytest.fixture
def subscriber(engine):
    result = subscriptions.subscribe(engine, "reader@example.org")
    return result.subscriber_id, result.email


def test_links_signed_before_a_rotation_still_verify(engine, subscriber, monkeypatch):
    old_key, new_key = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", old_key)
    sent_before = subscriptions.make_token("manage", *subscriber)
    # rotate: a new session key, the old one kept for links already in inboxes
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("PAPERFEED_EMAIL_TOKEN_KEYS", f"{new_key},{old_key}")
    assert subscriptions.read_token(engine, "manage", sent_before).id == subscriber[0]
    fresh = subscriptions.make_token("manage", *subscriber)
    # the first key signs: with the old key dropped, the new link still works, the old one not
    monkeypatch.setenv("PAPERFEED_EMAIL_TOKEN_KEYS", new_key)
    assert subscriptions.read_token(engine, "manage", fresh).id == subscriber[0]
    with pytest.raises(subscriptions.TokenInvalid):
        subscriptions.read_token(engine, "manage", sent_before)


def test_the_default_is_the_secret_key(engine, subscriber, monkeypatch):
    key = secrets.token_urlsafe(48)
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", key)
    token = subscriptions.make_token("unsubscribe", *subscriber)
    monkeypatch.setenv("PAPERFEED_EMAIL_TOKEN_KEYS", key)  # naming it explicitly changes nothing
    assert subscriptions.read_token(engine, "unsubscribe", token).id == subscriber[0]


@pytest.mark.parametrize("keys", ["CHANGE-ME", "short", f"{secrets.token_urlsafe(48)},,"])
def test_weak_email_keys_are_refused(monkeypatch, keys):
    monkeypatch.setenv("PAPERFEED_EMAIL_TOKEN_KEYS", keys)
    with pytest.raises(SettingError) as e:
        validate()
    assert "PAPERFEED_EMAIL_TOKEN_KEYS='***'" in str(e.value.lines)
