"""
Personal access tokens (`Authorization: Bearer pf_…`) and secret feed URLs.

A token is 256 random bits (`secrets.token_urlsafe(32)`) behind the prefix
`pf_`; only its SHA-256 is stored (a fast hash suffices for a random secret of
that size), so the plaintext exists once, in `NewToken.token`, for the reader
to copy.  `scope` says what a token opens: `api` (the JSON API), or a single
feed: `feed:collection:<id>` or `feed:foryou`.  `verify` answers None, and
never raises, for anything that is not a live token of that scope: unknown
(such as the Hugging Face token `huggingface_hub` sends by default), revoked,
expired, or belonging to a disabled account, so a disabled reader's tokens and
feed URLs stop working at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from paperfeed.library.collection import feed_scope, get_collection
from paperfeed.library.errors import LibraryError, NotFound, TooLarge
from paperfeed.models import AccessToken, User

tokens = AccessToken.__table__
users = User.__table__
PREFIX = "pf_"
SHOWN = 10  # characters of the token kept to tell tokens apart ("pf_3kX9aQ2")
MAX_TOKENS = 100  # live tokens per reader
TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is written at most this often per token
_SCOPE = re.compile(r"^(api|feed:foryou|feed:collection:\d+)$")


@dataclass
class TokenInfo:
    """A token without its secret, for lists and the data export."""

    id: int
    scope: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > datetime.now(UTC))


@dataclass
class NewToken:
    info: TokenInfo
    token: str  # the plaintext: show it once, it is not stored


@dataclass
class Bearer:
    """Who a verified token speaks for."""

    user_id: int
    username: str
    role: str
    token_id: int
    scope: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row) -> TokenInfo:
    return TokenInfo(row.id, row.scope, row.name, row.prefix, row.created_at, row.expires_at,
                     row.last_used_at, row.revoked_at)


def create_token(
    conn,
    user_id: int,
    scope: str = "api",
    name: str = "",
    expires_at: datetime | None = None,
    expires_in: timedelta | None = None,
) -> NewToken:
    """A new token; its plaintext is in the result and nowhere else."""
    if not _SCOPE.match(scope):
        raise LibraryError(f"unknown token scope {scope[:40]!r}")
    if scope.startswith("feed:collection:"):
        get_collection(conn, user_id, int(scope.rsplit(":", 1)[1]))  # NotFound for another's collection
    name = " ".join((name or "").split())
    if len(name) > 100:
        raise TooLarge("a token name has at most 100 characters")
    now = datetime.now(UTC)
    if expires_in is not None:
        expires_at = now + expires_in
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at is not None and expires_at <= now:
        raise LibraryError("a token's expiry must be in the future")
    live = [t for t in list_tokens(conn, user_id) if t.live]
    if len(live) >= MAX_TOKENS:
        raise TooLarge(f"a reader has at most {MAX_TOKENS} live tokens; revoke some first")
    token = PREFIX + secrets.token_urlsafe(32)
    new_id = conn.execute(tokens.insert().values(
        user_id=user_id, scope=scope, name=name, token_hash=digest(token), prefix=token[:SHOWN],
        created_at=now, expires_at=expires_at, last_used_at=None, revoked_at=None,
    ).returning(tokens.c.id)).scalar_one()
    row = conn.execute(select(tokens).where(tokens.c.id == new_id)).one()
    return NewToken(_info(row), token)


def feed_token(conn, user_id: int, collection_id: int | None = None, name: str = "") -> NewToken:
    """A secret feed URL's token: one collection's feed, or (no collection) the For you feed."""
    scope = "feed:foryou" if collection_id is None else feed_scope(collection_id)
    return create_token(conn, user_id, scope=scope, name=name)


def parse_bearer(header: str | None) -> str | None:
    """The token in an `Authorization` header value (`Bearer pf_…`), or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None


def verify(conn, token: str | None, scope: str = "api", touch: bool = True) -> Bearer | None:
    """The reader a live token of `scope` belongs to, else None (never raises on bad input).

    `token` may be the bare token or a whole `Bearer …` header value.
    """
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    if " " in token.strip():
        token = parse_bearer(token) or ""
    token = token.strip()
    if not token.startswith(PREFIX):
        return None  # someone else's token (a Hugging Face one): not ours, not looked up
    row = conn.execute(
        select(tokens.c.id, tokens.c.user_id, tokens.c.scope, tokens.c.expires_at, tokens.c.revoked_at,
               tokens.c.last_used_at, users.c.username, users.c.role, users.c.disabled_at)
        .join(users, users.c.id == tokens.c.user_id)
        .where(tokens.c.token_hash == digest(token))
    ).first()
    now = datetime.now(UTC)
    if row is None or row.scope != scope or row.revoked_at is not None or row.disabled_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if touch and (row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY):
        conn.execute(update(tokens).where(tokens.c.id == row.id).values(last_used_at=now))
    return Bearer(row.user_id, row.username, row.role, row.id, row.scope)


def revoke(conn, user_id: int, token_id: int) -> TokenInfo:
    """Revoke one of the reader's tokens (at once; revoking again changes nothing); NotFound otherwise."""
    row = conn.execute(select(tokens).where(tokens.c.id == token_id, tokens.c.user_id == user_id)).first()
    if row is None:
        raise NotFound("no such token")
    if row.revoked_at is None:
        conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at=datetime.now(UTC)))
    return _info(conn.execute(select(tokens).where(tokens.c.id == token_id)).one())


def list_tokens(conn, user_id: int, scope: str | None = None) -> list[TokenInfo]:
    """The reader's tokens, newest first, without secrets (`scope` "feed" for every feed token)."""
    query = select(tokens).where(tokens.c.user_id == user_id)
    if scope == "feed":
        query = query.where(tokens.c.scope.like("feed:%"))
    elif scope is not None:
        query = query.where(tokens.c.scope == scope)
    return [_info(r) for r in conn.execute(query.order_by(tokens.c.created_at.desc(), tokens.c.id.desc()))]
