"""
A reader's collections: the default "Reading list" and named ones, private or public.

Every reader has one default collection, created the first time it is needed
(`default_collection`), which can be renamed but never deleted.  A collection's
`slug` is its URL part (`/u/<username>/c/<slug>`): made from the name once,
unique per owner, and kept when the collection is renamed, so a public URL
stays stable.  `public_collection` is the only lookup that crosses owners, and
it answers None for a private collection, a missing one or a disabled owner,
so the web can answer 404 for all three alike.

Functions take a SQLAlchemy Connection inside the caller's transaction
(`with engine.begin() as conn:`) and a user id the caller has authenticated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.library.errors import Conflict, LibraryError, NotFound, TooLarge
from paperfeed.models import AccessToken, Collection, CollectionPaper, User
from paperfeed.names import fold

collections = Collection.__table__
members = CollectionPaper.__table__

DEFAULT_NAME = "Reading list"
DEFAULT_SLUG = "reading-list"
MAX_NAME = 100
MAX_DESCRIPTION = 2_000
MAX_COLLECTIONS = 500  # per reader
_SLUG_LENGTH = 80


@dataclass
class CollectionInfo:
    id: int
    user_id: int
    name: str
    slug: str
    description: str
    is_default: bool
    is_public: bool
    created_at: datetime
    updated_at: datetime
    papers: int = 0  # how many papers it holds (filled by `list_collections`)


def _info(row, papers: int = 0) -> CollectionInfo:
    return CollectionInfo(
        id=row.id, user_id=row.user_id, name=row.name, slug=row.slug, description=row.description,
        is_default=bool(row.is_default), is_public=bool(row.is_public),
        created_at=row.created_at, updated_at=row.updated_at, papers=papers,
    )


def slugify(name: str) -> str:
    """`name` as a URL part: folded words joined by hyphens (`Ideas: Mamba & co.` → `ideas-mamba-co`)."""
    words = fold(name).split()
    slug = "-".join(words)[:_SLUG_LENGTH].strip("-")
    return re.sub(r"[^a-z0-9-]", "", slug) or "collection"


def check_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise LibraryError("a collection needs a name")
    if len(name) > MAX_NAME:
        raise TooLarge(f"a collection name has at most {MAX_NAME} characters (this one has {len(name)})")
    return name


def check_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise TooLarge(f"a description has at most {MAX_DESCRIPTION:,} characters (this one has {len(description):,})")
    return description


def _select():
    return select(collections)


def default_collection(conn, user_id: int) -> CollectionInfo:
    """The reader's "Reading list", created on first use."""
    row = conn.execute(_select().where(collections.c.user_id == user_id, collections.c.is_default)).first()
    if row is not None:
        return _info(row)
    return _create(conn, user_id, DEFAULT_NAME, "", public=False, default=True)


def create_collection(
    conn, user_id: int, name: str, description: str = "", public: bool = False, *, slug: str | None = None
) -> CollectionInfo:
    """A new collection; LibraryError when the reader already has one of that name.

    `slug`: keep this one (an imported export's) when it is free; else one is made from the name.
    """
    name, description = check_name(name), check_description(description)
    if find_by_name(conn, user_id, name) is not None:
        raise Conflict(f"you already have a collection named {name!r}")
    count = conn.execute(select(func.count()).where(collections.c.user_id == user_id)).scalar_one()
    if count >= MAX_COLLECTIONS:
        raise TooLarge(f"a reader has at most {MAX_COLLECTIONS} collections")
    return _create(conn, user_id, name, description, public, default=False, slug=slug)


def _create(
    conn, user_id: int, name: str, description: str, public: bool, default: bool, slug: str | None = None
) -> CollectionInfo:
    if slug is not None and slugify(slug) != slug:
        slug = None
    base = DEFAULT_SLUG if default else slug or slugify(name)
    taken = set(conn.execute(
        select(collections.c.slug).where(collections.c.user_id == user_id, collections.c.slug.like(f"{base}%"))
    ).scalars())
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    now = datetime.now(UTC)
    try:
        with conn.begin_nested():  # another request of the same reader may have just made it
            new_id = conn.execute(collections.insert().values(
                user_id=user_id, name=name, slug=slug, description=description, is_default=default,
                is_public=public, created_at=now, updated_at=now,
            ).returning(collections.c.id)).scalar_one()
    except IntegrityError:
        if default:
            return default_collection(conn, user_id)
        raise Conflict(f"a collection with the address {slug!r} was just created; try again") from None
    return get_collection(conn, user_id, new_id)


def get_collection(conn, user_id: int, ref: int | str) -> CollectionInfo:
    """The reader's collection by id or slug; NotFound when they have none such."""
    query = _select().where(collections.c.user_id == user_id)
    if isinstance(ref, int):
        query = query.where(collections.c.id == ref)
    else:
        query = query.where(collections.c.slug == str(ref))
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("no such collection")
    return _info(row)


def find_by_name(conn, user_id: int, name: str) -> CollectionInfo | None:
    """The reader's collection whose name is `name` (ignoring case and spacing), or None."""
    wanted = " ".join(name.split()).casefold()
    for row in conn.execute(_select().where(collections.c.user_id == user_id)):
        if row.name.casefold() == wanted:
            return _info(row)
    return None


def resolve(conn, user_id: int, ref: int | str, create: bool = False) -> CollectionInfo:
    """A collection by id, slug or name; with `create`, a name not found becomes a new collection."""
    if isinstance(ref, int):
        return get_collection(conn, user_id, ref)
    found = find_by_name(conn, user_id, ref)
    if found is not None:
        return found
    if fold(ref) == fold(DEFAULT_NAME):
        return default_collection(conn, user_id)
    try:
        return get_collection(conn, user_id, ref)
    except NotFound:
        if not create:
            raise
    return create_collection(conn, user_id, ref)


def list_collections(conn, user_id: int) -> list[CollectionInfo]:
    """The reader's collections with their paper counts, the default first, then by name."""
    counts = dict(conn.execute(
        select(members.c.collection_id, func.count())
        .join(collections, collections.c.id == members.c.collection_id)
        .where(collections.c.user_id == user_id)
        .group_by(members.c.collection_id)
    ).all())
    rows = conn.execute(_select().where(collections.c.user_id == user_id)).all()
    found = [_info(r, counts.get(r.id, 0)) for r in rows]
    return sorted(found, key=lambda c: (not c.is_default, c.name.casefold(), c.id))


def _change(conn, user_id: int, collection_id: int, **values) -> CollectionInfo:
    get_collection(conn, user_id, collection_id)  # NotFound for someone else's
    conn.execute(
        update(collections).where(collections.c.id == collection_id, collections.c.user_id == user_id)
        .values(updated_at=datetime.now(UTC), **values)
    )
    return get_collection(conn, user_id, collection_id)


def rename_collection(conn, user_id: int, collection_id: int, name: str) -> CollectionInfo:
    """A new name; the slug (and so a public URL) stays as it was."""
    name = check_name(name)
    other = find_by_name(conn, user_id, name)
    if other is not None and other.id != collection_id:
        raise Conflict(f"you already have a collection named {name!r}")
    return _change(conn, user_id, collection_id, name=name)


def describe_collection(conn, user_id: int, collection_id: int, description: str) -> CollectionInfo:
    return _change(conn, user_id, collection_id, description=check_description(description))


def set_public(conn, user_id: int, collection_id: int, public: bool) -> CollectionInfo:
    return _change(conn, user_id, collection_id, is_public=bool(public))


def delete_collection(conn, user_id: int, collection_id: int) -> None:
    """Delete a collection and its feed tokens; its papers stay saved. The Reading list refuses."""
    found = get_collection(conn, user_id, collection_id)
    if found.is_default:
        raise LibraryError(f"the {found.name!r} collection cannot be deleted")
    tokens = AccessToken.__table__
    conn.execute(delete(tokens).where(tokens.c.user_id == user_id, tokens.c.scope == feed_scope(collection_id)))
    conn.execute(delete(members).where(members.c.collection_id == collection_id))
    conn.execute(delete(collections).where(collections.c.id == collection_id))


def feed_scope(collection_id: int) -> str:
    """The token scope of a collection's secret feed URL."""
    return f"feed:collection:{collection_id}"


def public_collection(conn, username: str, slug: str) -> CollectionInfo | None:
    """A public collection by its owner's username and slug; None when private, missing or disabled."""
    users = User.__table__
    row = conn.execute(
        select(collections)
        .join(users, users.c.id == collections.c.user_id)
        .where(users.c.username == username, collections.c.slug == slug,
               collections.c.is_public, users.c.disabled_at.is_(None))
    ).first()
    return None if row is None else _info(row)
