"""
A reader's own data: all of it as one JSON-ready dict, and deleting the account.

`export_user_data` is the "download my data" file: the account, the library
(collections with descriptions, papers with notes and dates, exactly as the
library's JSON export, so it re-imports), follows, "not interested" papers,
upvotes, papers submitted to daily lists, tokens (names, scopes and dates, no
secrets), the digest subscription of the account's e-mail address, once
that address is verified (anyone may type another's address into an account),
and the comments the reader wrote.

`delete_user` deletes the account with its library, notes, follows,
dismissals, tokens, votes and comment reports, explicitly table by table rather than trusting
foreign-key cascades (SQLite enforces them only with PRAGMA foreign_keys,
which `paperfeed.db` sets, but a connection from elsewhere may not); papers it
submitted stay on their daily lists without a submitter, and its comments are
deleted as their author would delete them (emptied to "[deleted]" where
others' replies hang on them).  The digest
subscription is a separate agreement about an address and has its own
unsubscribe link; pass `subscription=True` to delete it too (a verified address only).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update

from paperfeed.discussion import comments as discussion
from paperfeed.library import exporter, follows, tokens
from paperfeed.library.errors import NotFound
from paperfeed.models import (
    AccessToken,
    Collection,
    CollectionPaper,
    DailyEntry,
    DigestOutbox,
    DigestSentPaper,
    Dismissal,
    Follow,
    SavedPaper,
    Subscriber,
    User,
    Vote,
)

users = User.__table__


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat()


def _user(conn, user_id: int):
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound("no such user")
    return row


def export_user_data(conn, user_id: int) -> dict:
    """Everything stored about the reader, as plain JSON types."""
    user = _user(conn, user_id)
    library = exporter.library_document(conn, user_id)
    votes = Vote.__table__
    daily = DailyEntry.__table__
    subscribers = Subscriber.__table__
    dismissals = Dismissal.__table__
    subscription = None
    if user.email and user.email_verified_at is not None:  # an unverified address may be anyone's
        sub = conn.execute(select(subscribers).where(func.lower(subscribers.c.email) == user.email.lower())).first()
        if sub is not None:
            subscription = {
                "email": sub.email, "status": sub.status, "frequency": sub.frequency, "hour": sub.hour,
                "weekday": sub.weekday, "timezone": sub.timezone, "categories": list(sub.categories or []),
                "searches": list(sub.searches or []), "max_papers": sub.max_papers, "for_you": sub.for_you,
                "created_at": _iso(sub.created_at), "confirmed_at": _iso(sub.confirmed_at),
                "unsubscribed_at": _iso(sub.unsubscribed_at),
            }
    return {
        "user": {
            "username": user.username, "email": user.email, "role": user.role,
            "created_at": _iso(user.created_at), "email_verified_at": _iso(user.email_verified_at),
            "disabled_at": _iso(user.disabled_at), "list_categories": user.list_categories,
        },
        "library": library,
        "collections": library["collections"],
        "notes": [{"arxiv_id": p["arxiv_id"], "note": p["note"]} for p in library["papers"] if p["note"]],
        "follows": [
            {"kind": f.kind, "key": f.key, "label": f.label, "created_at": _iso(f.created_at)}
            for f in follows.list_follows(conn, user_id)
        ],
        "dismissals": [
            {"arxiv_id": a, "created_at": _iso(t)}
            for a, t in conn.execute(select(dismissals.c.arxiv_id, dismissals.c.created_at)
                                     .where(dismissals.c.user_id == user_id).order_by(dismissals.c.created_at))
        ],
        "votes": [
            {"arxiv_id": a, "created_at": _iso(t)}
            for a, t in conn.execute(select(votes.c.arxiv_id, votes.c.created_at)
                                     .where(votes.c.user_id == user_id).order_by(votes.c.created_at, votes.c.arxiv_id))
        ],
        "submissions": [
            {"day": d.isoformat(), "arxiv_id": a, "created_at": _iso(t)}
            for d, a, t in conn.execute(select(daily.c.day, daily.c.arxiv_id, daily.c.created_at)
                                        .where(daily.c.submitted_by_user == user_id).order_by(daily.c.day, daily.c.id))
        ],
        "tokens": [
            {"name": t.name, "scope": t.scope, "prefix": t.prefix, "created_at": _iso(t.created_at),
             "expires_at": _iso(t.expires_at), "last_used_at": _iso(t.last_used_at), "revoked_at": _iso(t.revoked_at)}
            for t in tokens.list_tokens(conn, user_id)
        ],
        "subscription": subscription,
        "comments": discussion.user_comments(conn, user_id),
    }


def delete_user(conn, user_id: int, subscription: bool = False) -> dict[str, int]:
    """Delete the reader and everything that is theirs; rows deleted per table."""
    user = _user(conn, user_id)
    collections = Collection.__table__
    mine = select(collections.c.id).where(collections.c.user_id == user_id)
    counts: dict[str, int] = {}

    def gone(name: str, statement) -> None:
        counts[name] = conn.execute(statement).rowcount

    gone("collection_papers", delete(CollectionPaper.__table__).where(CollectionPaper.__table__.c.collection_id.in_(mine)))
    gone("collections", delete(collections).where(collections.c.user_id == user_id))
    for model in (SavedPaper, Follow, Dismissal, AccessToken, Vote):
        table = model.__table__
        gone(table.name, delete(table).where(table.c.user_id == user_id))
    daily = DailyEntry.__table__
    gone("daily_entries (submitter cleared)",
         update(daily).where(daily.c.submitted_by_user == user_id).values(submitted_by_user=None))
    if subscription and user.email and user.email_verified_at is not None:
        subscribers = Subscriber.__table__
        theirs = select(subscribers.c.id).where(func.lower(subscribers.c.email) == user.email.lower())
        for model in (DigestOutbox, DigestSentPaper):
            table = model.__table__
            gone(table.name, delete(table).where(table.c.subscriber_id.in_(theirs)))
        gone("subscribers", delete(subscribers).where(subscribers.c.id.in_(theirs)))
    counts.update(discussion.forget_user(conn, user_id))
    gone("users", delete(users).where(users.c.id == user_id))
    return counts
