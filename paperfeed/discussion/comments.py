"""
Comments and replies on a paper: posting (once per form), editing, deleting,
reading a paper's discussion a page at a time, and counting what is visible.

- One level of threading: a comment is top-level (`parent_id` NULL) or a reply
  to a top-level comment; a reply to a reply is attached to its top comment.
- A comment is *visible* when it is neither deleted nor hidden by a curator;
  only visible comments are counted (cards, `numComments`, the feed).  Curators
  see hidden comments too, marked.  A deleted or hidden top comment whose
  replies are shown stays in its place as an empty "[deleted]" / "[hidden]"
  placeholder, so the replies keep their thread.
- Deleting empties the comment (its text is gone); a comment with nothing
  attached to it is removed outright.
- Posting is idempotent: every form carries its own random key, unique per
  author (`uq_comment_user_key`), so a double click or a retried request
  stores the comment once and answers with the same comment.
- The Markdown is rendered and sanitised when it is written (`render.to_html`)
  and the HTML is kept next to the source, so reading a page renders nothing:
  a page of 25 threads holds up to 525 comments, and sanitising each again
  on every view would cost more than the rest of the page
  (benchmarks/discussion.py).  A changed allow-list applies to old comments
  once they are rendered again from `body`.

Functions take a Connection in the caller's transaction, except `post`, which
needs its own transactions to settle a race between two identical posts.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.discussion.render import to_html
from paperfeed.models import Comment, CommentReport, Paper, User

comments = Comment.__table__
reports = CommentReport.__table__
users = User.__table__
papers = Paper.__table__
KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


class DiscussionError(ValueError):
    """A change the discussion refuses; the message is safe to show."""


class NotFound(DiscussionError):
    """No such comment or paper (or one this reader may not see)."""


class NotAllowed(DiscussionError):
    """Not this reader's comment, or past its edit window."""


class Invalid(DiscussionError):
    """An empty or too long comment, or a form that is not ours; nothing was stored."""


@dataclass
class View:
    """One comment as a page shows it."""

    id: int
    arxiv_id: str
    parent_id: int | None
    user_id: int | None
    author: str | None  # None: the account was deleted
    body: str
    html: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool
    placeholder: str | None = None  # what stands in the place of a comment not shown: "[deleted]"

    def editable_by(self, user_id: int | None, minutes: int, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return (
            user_id is not None and user_id == self.user_id and not self.deleted and not self.hidden
            and now < self.created_at + timedelta(minutes=minutes)
        )


@dataclass
class Thread:
    top: View
    replies: list[View] = field(default_factory=list)
    reply_count: int = 0  # replies shown to this reader, of which `replies` are the first


def new_key() -> str:
    """A fresh key for one comment form (the idempotency key of what it posts)."""
    return secrets.token_urlsafe(18)


def check_body(body: str | None, max_chars: int) -> str:
    """The comment text as stored (line endings as \\n, outer blank lines dropped), or Invalid."""
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        raise Invalid("Write something first: the comment is empty.")
    if len(text) > max_chars:
        raise Invalid(f"A comment has at most {max_chars:,} characters; this one has {len(text):,}. Shorten it and post again.")
    if "\x00" in text:
        raise Invalid("The comment holds a NUL character, which cannot be stored.")
    return text


def check_key(key: str | None) -> str:
    if not key or not KEY.fullmatch(key):
        raise Invalid("This form is missing its key. Reload the page and post again (your text is kept below).")
    return key


# --- reading ---------------------------------------------------------------------------


def _columns():
    return (*comments.c, users.c.username)


def _view(row, curator: bool = True) -> View:
    """The comment in `row`; for a reader who may not see it (deleted, or hidden and
    `curator` false) only its place: no text, no author."""
    deleted, hidden = row.deleted_at is not None, row.hidden_at is not None
    placeholder = "[deleted]" if deleted else "[hidden by a curator]" if hidden and not curator else None
    return View(
        id=row.id, arxiv_id=row.arxiv_id, parent_id=row.parent_id,
        user_id=None if placeholder else row.user_id, author=None if placeholder else row.username,
        body="" if placeholder else row.body, html="" if placeholder else row.html,
        created_at=row.created_at, edited_at=row.edited_at, deleted=deleted, hidden=hidden,
        placeholder=placeholder,
    )


def _select():
    return select(*_columns()).select_from(comments.outerjoin(users, users.c.id == comments.c.user_id))


def get(conn: Connection, comment_id: int, curator: bool = True) -> View | None:
    """The comment, as a curator (default) or another reader sees it; None when there is none."""
    row = conn.execute(_select().where(comments.c.id == comment_id)).first()
    return None if row is None else _view(row, curator)


def shown(table, curator: bool):
    """The condition for a comment this reader sees with its text: not deleted and,
    unless a curator is looking, not hidden."""
    visible = table.c.deleted_at.is_(None)
    return visible if curator else and_(visible, table.c.hidden_at.is_(None))


def _threads_where(arxiv_id: str, curator: bool):
    """Top comments on the page: shown ones, and placeholders for those with shown replies."""
    reply = comments.alias("reply")
    has_shown_reply = exists().where(reply.c.parent_id == comments.c.id, shown(reply, curator))
    return and_(
        comments.c.arxiv_id == arxiv_id, comments.c.parent_id.is_(None),
        or_(shown(comments, curator), has_shown_reply),
    )


def thread_count(conn: Connection, arxiv_id: str, curator: bool = False) -> int:
    return conn.execute(select(func.count()).select_from(comments).where(_threads_where(arxiv_id, curator))).scalar() or 0


def thread_position(conn: Connection, arxiv_id: str, top_id: int, curator: bool = False) -> int:
    """How many threads come before `top_id`'s on the paper's discussion (0: the first)."""
    where = and_(_threads_where(arxiv_id, curator), comments.c.id < top_id)
    return conn.execute(select(func.count()).select_from(comments).where(where)).scalar() or 0


def reply_position(conn: Connection, top_id: int, reply_id: int, curator: bool = False) -> int:
    """How many shown replies come before `reply_id` in `top_id`'s thread (0: the first)."""
    where = (comments.c.parent_id == top_id, comments.c.id < reply_id, shown(comments, curator))
    return conn.execute(select(func.count()).select_from(comments).where(*where)).scalar() or 0


def threads(
    conn: Connection, arxiv_id: str, curator: bool = False, offset: int = 0, limit: int = 25, replies: int = 20
) -> list[Thread]:
    """A page of a paper's discussion, oldest thread first, with each thread's first
    `replies` shown replies (oldest first) and how many it has."""
    tops = conn.execute(
        _select().where(_threads_where(arxiv_id, curator)).order_by(comments.c.id).offset(offset).limit(limit)
    ).all()
    found = [Thread(_view(row, curator)) for row in tops]
    _add_replies(conn, found, curator, replies)
    return found


def _add_replies(conn: Connection, found: list[Thread], curator: bool, limit: int, offset: int = 0) -> None:
    """Fill each thread's replies (`offset` to `offset + limit` of them) and counts, in two queries."""
    by_id = {t.top.id: t for t in found}
    if not by_id:
        return
    reply = comments.alias("r")
    where = (reply.c.parent_id.in_(list(by_id)), shown(reply, curator))
    for parent, count in conn.execute(select(reply.c.parent_id, func.count()).where(*where).group_by(reply.c.parent_id)):
        by_id[parent].reply_count = count
    place = func.row_number().over(partition_by=reply.c.parent_id, order_by=reply.c.id).label("place")
    ranked = select(reply.c.id, place).where(*where).subquery()
    q = (
        _select().join(ranked, ranked.c.id == comments.c.id)
        .where(ranked.c.place > offset, ranked.c.place <= offset + limit)
        .order_by(comments.c.parent_id, comments.c.id)
    )
    for row in conn.execute(q):
        by_id[row.parent_id].replies.append(_view(row, curator))


def thread_of(conn: Connection, top: View, curator: bool = False, offset: int = 0, limit: int = 100) -> Thread:
    """`top`'s thread with its shown replies from `offset`, at most `limit` of them."""
    found = Thread(top)
    _add_replies(conn, [found], curator, limit, offset)
    return found


def has_shown_replies(conn: Connection, comment_id: int, curator: bool = False) -> bool:
    return conn.execute(
        select(exists().where(comments.c.parent_id == comment_id, shown(comments, curator)))
    ).scalar()


def visible_count(conn: Connection, arxiv_id: str) -> int:
    """The paper's visible comments (replies included): the count cards and the API show."""
    return visible_counts(conn, [arxiv_id]).get(arxiv_id, 0)


def visible_counts(conn: Connection, arxiv_ids: list[str]) -> dict[str, int]:
    """Visible comments per paper, for a page of papers in one query."""
    if not arxiv_ids:
        return {}
    q = (
        select(comments.c.arxiv_id, func.count())
        .where(comments.c.arxiv_id.in_(list(dict.fromkeys(arxiv_ids))), shown(comments, curator=False))
        .group_by(comments.c.arxiv_id)
    )
    return dict(conn.execute(q).all())


def visible_count_of(arxiv_id_column):
    """A correlated subquery counting the visible comments of the paper in `arxiv_id_column`."""
    c = comments.alias("counted_comments")
    return (
        select(func.count()).where(c.c.arxiv_id == arxiv_id_column, shown(c, curator=False))
        .correlate(arxiv_id_column.table).scalar_subquery()
    )


def recent(conn: Connection, arxiv_id: str, limit: int = 50) -> list[View]:
    """The paper's newest visible comments and replies, newest first (the discussion feed)."""
    q = (
        _select().where(comments.c.arxiv_id == arxiv_id, shown(comments, curator=False))
        .order_by(comments.c.created_at.desc(), comments.c.id.desc()).limit(limit)
    )
    return [_view(row) for row in conn.execute(q)]


# --- writing ---------------------------------------------------------------------------


def _by_key(conn: Connection, user_id: int, key: str) -> View | None:
    row = conn.execute(_select().where(comments.c.user_id == user_id, comments.c.client_key == key)).first()
    return None if row is None else _view(row)


def already_posted(engine: Engine, user_id: int, key: str) -> View | None:
    """The comment this form (its key) already stored for `user_id`, if any."""
    with engine.connect() as conn:
        return _by_key(conn, user_id, key)


def _attach_to(conn: Connection, arxiv_id: str, parent_id: int | None, curator: bool) -> int | None:
    """The top comment a reply to `parent_id` belongs under (NotFound: not one this reader sees)."""
    if parent_id is None:
        return None
    parent = get(conn, parent_id)
    if parent is None or parent.deleted or (parent.hidden and not curator) or parent.arxiv_id != arxiv_id:
        raise NotFound("That comment is no longer there, so it cannot be replied to.")
    return parent.parent_id or parent.id


def post(
    engine: Engine, user_id: int, arxiv_id: str, body: str, key: str, *,
    parent_id: int | None = None, curator: bool = False, now: datetime | None = None,
) -> tuple[View, bool]:
    """Store a comment (or a reply) once per form key; returns it and whether it is new.

    `body` and `key` must have passed `check_body` and `check_key`."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(select(papers.c.arxiv_id).where(papers.c.arxiv_id == arxiv_id)).first() is None:
            raise NotFound(f"No paper {arxiv_id} is stored here.")
        existing = _by_key(conn, user_id, key)
        if existing is not None:
            return existing, False
        top = _attach_to(conn, arxiv_id, parent_id, curator)
    try:
        with engine.begin() as conn:
            new_id = conn.execute(
                comments.insert().values(
                    arxiv_id=arxiv_id, parent_id=top, user_id=user_id, client_key=key, body=body,
                    html=to_html(body), created_at=now,
                )
            ).inserted_primary_key[0]
    except IntegrityError:  # the same form, posted twice at once: the other one stored it
        existing = already_posted(engine, user_id, key)
        if existing is None:
            raise
        return existing, False
    with engine.connect() as conn:
        return get(conn, new_id), True


def _own(conn: Connection, comment_id: int, user_id: int) -> View:
    found = get(conn, comment_id)
    if found is None or found.deleted or found.hidden:
        raise NotFound("That comment is no longer there.")
    if found.user_id != user_id:
        raise NotAllowed("Only its author can change a comment.")
    return found


def edit(conn: Connection, comment_id: int, user_id: int, body: str, minutes: int, now: datetime | None = None) -> View:
    """Replace the text of the author's comment within `minutes` of posting it."""
    now = now or datetime.now(UTC)
    found = _own(conn, comment_id, user_id)
    if not found.editable_by(user_id, minutes, now):
        raise NotAllowed(
            f"Comments can be edited for {minutes} minutes after posting; this one can no longer be edited. You can still delete it."
            if minutes else "Comments cannot be edited on this site; you can delete yours."
        )
    conn.execute(update(comments).where(comments.c.id == comment_id).values(body=body, html=to_html(body), edited_at=now))
    return get(conn, comment_id)


def delete_comment(conn: Connection, comment_id: int, user_id: int, now: datetime | None = None) -> View:
    """Delete the author's comment: removed when nothing hangs on it, else emptied to "[deleted]"."""
    found = _own(conn, comment_id, user_id)
    _forget(conn, found, now or datetime.now(UTC))
    return found


def _forget(conn: Connection, found: View, now: datetime) -> None:
    has_replies = conn.execute(select(exists().where(comments.c.parent_id == found.id))).scalar()
    if has_replies:
        conn.execute(
            update(comments).where(comments.c.id == found.id)
            .values(body="", html="", deleted_at=now, user_id=None, edited_at=None)
        )
        conn.execute(delete(reports).where(reports.c.comment_id == found.id))  # nothing left to judge
        return
    _remove(conn, found.id)
    if found.parent_id is not None:  # the last reply under an emptied top comment: the thread goes too
        parent = get(conn, found.parent_id)
        if parent is not None and parent.deleted:
            gone = conn.execute(select(exists().where(comments.c.parent_id == parent.id))).scalar()
            if not gone:
                _remove(conn, parent.id)


def _remove(conn: Connection, comment_id: int) -> None:
    # explicit, not a foreign-key cascade: a connection from elsewhere may not enforce them
    conn.execute(delete(reports).where(reports.c.comment_id == comment_id))
    conn.execute(delete(comments).where(comments.c.id == comment_id))


# --- the reader's own data ------------------------------------------------------------


def user_comments(conn: Connection, user_id: int) -> list[dict]:
    """The reader's comments as plain JSON types (their "download my data" file)."""
    q = select(comments).where(comments.c.user_id == user_id).order_by(comments.c.id)
    return [
        {"id": r.id, "arxiv_id": r.arxiv_id, "reply_to": r.parent_id, "body": r.body,
         "created_at": r.created_at.isoformat(), "edited_at": r.edited_at.isoformat() if r.edited_at else None,
         "hidden": r.hidden_at is not None}
        for r in conn.execute(q)
    ]


def forget_user(conn: Connection, user_id: int, now: datetime | None = None) -> dict[str, int]:
    """Before an account is deleted: its reports go, and its comments are deleted as their
    author would delete them (emptied where replies hang on them); rows touched per table."""
    now = now or datetime.now(UTC)
    counts = {"comment_reports": conn.execute(delete(reports).where(reports.c.user_id == user_id)).rowcount}
    conn.execute(update(reports).where(reports.c.resolved_by == user_id).values(resolved_by=None))
    conn.execute(update(comments).where(comments.c.hidden_by == user_id).values(hidden_by=None))
    mine = conn.execute(_select().where(comments.c.user_id == user_id).order_by(comments.c.id.desc())).all()
    for row in mine:  # replies first (newer), so a thread emptied of them goes with its top
        found = get(conn, row.id)
        if found is not None:
            _forget(conn, found, now)
    counts["comments"] = len(mine)
    return counts
