"""
What a reader follows: authors (by `names.author_key`) and arXiv categories.

A category is a category (`cs.CL`) or a whole archive (`cs`, `hep-th`); an
author is stored under their key with the name as the reader saw it, so the
list can show "Albert Gu" while matching every paper of `albert gu`.
Following twice is one follow; a reader follows at most `MAX_FOLLOWS` things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from paperfeed.library.errors import LibraryError, NotFound, TooLarge
from paperfeed.models import Follow
from paperfeed.names import author_key

follows = Follow.__table__
KINDS = ("author", "category")
MAX_FOLLOWS = 1_000
_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")


@dataclass
class FollowInfo:
    kind: str  # author|category
    key: str  # "albert gu" or "cs.CL"
    label: str  # as shown: "Albert Gu"
    created_at: datetime


def target(kind: str, value: str) -> tuple[str, str]:
    """(key, label) of a follow; NotFound for a name without a letter or digit (no author has it),
    LibraryError for an unknown kind or a malformed category."""
    value = " ".join((value or "").split())
    if kind == "author":
        key = author_key(value)
        if not key:
            raise NotFound("no author has that name: a name has a letter or a digit")
        return key, value[:300]
    if kind == "category":
        if not _CATEGORY.match(value):
            raise LibraryError(f"{value[:40]!r} is not an arXiv category such as cs.CL or hep-th")
        return value, value
    raise LibraryError(f"one follows an author or a category, not {kind!r}")


def follow(conn, user_id: int, kind: str, value: str) -> FollowInfo:
    """Follow an author (by name or key) or a category; following again changes nothing."""
    key, label = target(kind, value)
    have = conn.execute(select(follows).where(
        follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key == key)).first()
    if have is not None:
        return FollowInfo(have.kind, have.key, have.label, have.created_at)
    if conn.execute(select(func.count()).where(follows.c.user_id == user_id)).scalar_one() >= MAX_FOLLOWS:
        raise TooLarge(f"a reader follows at most {MAX_FOLLOWS:,} authors and categories")
    now = datetime.now(UTC)
    try:
        with conn.begin_nested():
            conn.execute(follows.insert().values(user_id=user_id, kind=kind, key=key, label=label, created_at=now))
    except IntegrityError:
        pass  # followed a moment ago by another request
    return FollowInfo(kind, key, label, now)


def follow_author(conn, user_id: int, name: str) -> FollowInfo:
    return follow(conn, user_id, "author", name)


def follow_category(conn, user_id: int, category: str) -> FollowInfo:
    return follow(conn, user_id, "category", category)


def unfollow(conn, user_id: int, kind: str, value: str) -> bool:
    """Stop following; False when the reader did not follow it."""
    key, _ = target(kind, value)
    done = conn.execute(delete(follows).where(
        follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key == key))
    return done.rowcount > 0


def is_following(conn, user_id: int, kind: str, value: str) -> bool:
    key, _ = target(kind, value)
    return conn.execute(select(follows.c.key).where(
        follows.c.user_id == user_id, follows.c.kind == kind, follows.c.key == key)).first() is not None


def list_follows(conn, user_id: int, kind: str | None = None) -> list[FollowInfo]:
    """The reader's follows, authors first, each kind by label."""
    query = select(follows).where(follows.c.user_id == user_id)
    if kind is not None:
        query = query.where(follows.c.kind == kind)
    rows = conn.execute(query).all()
    found = [FollowInfo(r.kind, r.key, r.label, r.created_at) for r in rows]
    return sorted(found, key=lambda f: (KINDS.index(f.kind) if f.kind in KINDS else 9, f.label.casefold()))
