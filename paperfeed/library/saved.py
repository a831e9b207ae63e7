"""
Saving papers: the reader's library, which collections hold each paper, and notes.

A saved paper is a row of `saved_papers` (with the reader's private note and
when they saved it); collections hold saved papers, one paper in as many as the
reader likes.  `save` without collections puts the paper in the Reading list;
saving a paper already saved only adds it to the collections named (its note
and saved date stay).  `unsave` takes it out of every collection.  Notes are
plain text, kept as written (line breaks included; the web escapes them), and
at most `MAX_NOTE` characters: a longer one is refused whole and the note
already stored stays.

Functions take a Connection in the caller's transaction and an authenticated user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed import ids
from paperfeed.library import collection as coll
from paperfeed.library.errors import NotFound, TooLarge
from paperfeed.models import CollectionPaper, Paper, SavedPaper

saved = SavedPaper.__table__
members = CollectionPaper.__table__
papers = Paper.__table__
MAX_NOTE = 10_000  # characters


@dataclass
class SavedInfo:
    arxiv_id: str
    note: str
    saved_at: datetime
    collections: list[int] = field(default_factory=list)  # collection ids


def check_note(note: str | None) -> str:
    """`note` as stored (line endings as \\n, outer blank lines dropped); TooLarge past `MAX_NOTE`."""
    note = (note or "").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if len(note) > MAX_NOTE:
        raise TooLarge(f"a note has at most {MAX_NOTE:,} characters (this one has {len(note):,}); it was not saved")
    return note


def paper_id(conn, arxiv_id: str) -> str:
    """The stored paper's canonical id; NotFound for an id that is malformed or not stored."""
    try:
        canon = ids.canonical(arxiv_id)
    except ids.BadArxivId as e:
        raise NotFound(str(e)) from None
    if conn.execute(select(papers.c.arxiv_id).where(papers.c.arxiv_id == canon)).first() is None:
        raise NotFound(f"no paper {canon} is stored here")
    return canon


def get_saved(conn, user_id: int, arxiv_id: str) -> SavedInfo | None:
    """The reader's saved paper with its collections, or None when it is not saved."""
    row = conn.execute(select(saved).where(saved.c.user_id == user_id, saved.c.arxiv_id == arxiv_id)).first()
    if row is None:
        return None
    return SavedInfo(row.arxiv_id, row.note, row.saved_at, _memberships(conn, user_id, [arxiv_id]).get(arxiv_id, []))


def _memberships(conn, user_id: int, arxiv_ids: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    collections = coll.collections
    for at in range(0, len(arxiv_ids), 500):
        rows = conn.execute(
            select(members.c.arxiv_id, members.c.collection_id)
            .join(collections, collections.c.id == members.c.collection_id)
            .where(collections.c.user_id == user_id, members.c.arxiv_id.in_(arxiv_ids[at : at + 500]))
            .order_by(members.c.collection_id)
        )
        for arxiv_id, collection_id in rows:
            out.setdefault(arxiv_id, []).append(collection_id)
    return out


def saved_state(conn, user_id: int, arxiv_ids: Iterable[str]) -> dict[str, list[int]]:
    """For a page of cards: which of these papers the reader saved, and in which collections."""
    wanted = list(dict.fromkeys(arxiv_ids))
    found: dict[str, list[int]] = {}
    for at in range(0, len(wanted), 500):
        chunk = wanted[at : at + 500]
        for arxiv_id in conn.execute(
            select(saved.c.arxiv_id).where(saved.c.user_id == user_id, saved.c.arxiv_id.in_(chunk))
        ).scalars():
            found[arxiv_id] = []
    found.update({k: v for k, v in _memberships(conn, user_id, list(found)).items() if k in found})
    return found


def save(
    conn,
    user_id: int,
    arxiv_id: str,
    collections: Iterable[int | str] | None = None,
    note: str | None = None,
) -> SavedInfo:
    """Save a paper (into the Reading list unless `collections` names others; names are
    created as needed) and return it.  Already saved: it joins those collections, and
    `note`, when given, replaces its note."""
    canon = paper_id(conn, arxiv_id)
    if note is not None:
        note = check_note(note)
    targets = [coll.resolve(conn, user_id, c, create=True) for c in collections or ()]
    if not targets and get_saved(conn, user_id, canon) is None:
        targets = [coll.default_collection(conn, user_id)]
    now = datetime.now(UTC)
    try:
        with conn.begin_nested():
            conn.execute(saved.insert().values(user_id=user_id, arxiv_id=canon, note=note or "", saved_at=now))
    except IntegrityError:  # saved already (perhaps a moment ago, in another request)
        if note is not None:
            conn.execute(update(saved).where(saved.c.user_id == user_id, saved.c.arxiv_id == canon).values(note=note))
    for target in targets:
        _add(conn, target.id, canon, now)
    return get_saved(conn, user_id, canon)


def _add(conn, collection_id: int, arxiv_id: str, now: datetime) -> None:
    have = conn.execute(
        select(members.c.arxiv_id).where(members.c.collection_id == collection_id, members.c.arxiv_id == arxiv_id)
    ).first()
    if have is None:
        try:
            with conn.begin_nested():
                conn.execute(members.insert().values(collection_id=collection_id, arxiv_id=arxiv_id, added_at=now))
        except IntegrityError:
            pass  # added by a concurrent request


def add_to_collection(conn, user_id: int, arxiv_id: str, collection: int | str) -> SavedInfo:
    """Put a paper in a collection (saving it first if need be)."""
    return save(conn, user_id, arxiv_id, [collection])


def remove_from_collection(conn, user_id: int, arxiv_id: str, collection: int | str) -> SavedInfo | None:
    """Take a paper out of one collection; it stays saved (in no collection, perhaps)."""
    target = coll.resolve(conn, user_id, collection)
    conn.execute(delete(members).where(members.c.collection_id == target.id, members.c.arxiv_id == _canon(arxiv_id)))
    return get_saved(conn, user_id, _canon(arxiv_id))


def unsave(conn, user_id: int, arxiv_id: str) -> bool:
    """Remove a paper from the library and all its collections; False when it was not saved."""
    canon = _canon(arxiv_id)
    mine = select(coll.collections.c.id).where(coll.collections.c.user_id == user_id)
    conn.execute(delete(members).where(members.c.arxiv_id == canon, members.c.collection_id.in_(mine)))
    gone = conn.execute(delete(saved).where(saved.c.user_id == user_id, saved.c.arxiv_id == canon))
    return gone.rowcount > 0


def set_note(conn, user_id: int, arxiv_id: str, note: str) -> SavedInfo:
    """Replace the note of a saved paper (an empty note clears it); NotFound when not saved."""
    note = check_note(note)
    canon = _canon(arxiv_id)
    done = conn.execute(update(saved).where(saved.c.user_id == user_id, saved.c.arxiv_id == canon).values(note=note))
    if done.rowcount == 0:
        raise NotFound("that paper is not in your library")
    return get_saved(conn, user_id, canon)


def _canon(arxiv_id: str) -> str:
    try:
        return ids.canonical(arxiv_id)
    except ids.BadArxivId as e:
        raise NotFound(str(e)) from None
