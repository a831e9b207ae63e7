"""
The database tables (SQLAlchemy 2).  The schema itself is created and changed
only by the Alembic migrations in `paperfeed/migrations/`; these classes must
match them (a test compares the two).

Papers are keyed by arXiv id without version.  Lists that are always read whole
with their paper (authors in order, categories, versions, per-field sources) are
JSON columns, which both SQLite and PostgreSQL store natively.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Paper(Base):
    __tablename__ = "papers"

    arxiv_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int | None] = mapped_column(Integer)
    # [{"version": 1, "created": "2007-04-02T19:18:42+00:00"}, ...], oldest first
    versions: Mapped[list] = mapped_column(JSON, default=list)
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list] = mapped_column(JSON, default=list)  # ordered names
    abstract: Mapped[str] = mapped_column(Text)
    primary_category: Mapped[str | None] = mapped_column(String(64), index=True)
    categories: Mapped[list] = mapped_column(JSON, default=list)
    comments: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(Text)
    report_no: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(Text)
    submitter: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime | None] = mapped_column(index=True)
    updated: Mapped[datetime | None] = mapped_column()
    # {"title": "kaggle", "abstract": "arxiv-api", ...}: who supplied each field
    sources: Mapped[dict] = mapped_column(JSON, default=dict)
    # hash of the stored content, so re-ingesting identical data is a cheap no-op
    content_hash: Mapped[str] = mapped_column(String(32))
    # monotonically increasing change counter: the search indexer's cursor
    revision: Mapped[int] = mapped_column(Integer, index=True)
    # what Hugging Face's daily JSON says beyond arXiv (`githubRepo`, `projectPage`, ...)
    github_repo: Mapped[str | None] = mapped_column(Text)
    project_page: Mapped[str | None] = mapped_column(Text)
    github_stars: Mapped[int | None] = mapped_column(Integer)
    ai_summary: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    # [{"kind": "code"|"project"|"model"|"dataset"|"space", "url": ...}] found in the
    # comments and abstract (`ingest.links`), derived when the paper is written; NULL: none
    links: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    # a handful of phrases saying what the paper is about (`search.key_terms`), computed
    # by `paperfeed index`; NULL: not yet (the next `paperfeed index` computes them)
    key_terms: Mapped[list | None] = mapped_column(JSON(none_as_null=True))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), default="reader")  # reader|curator|admin
    created_at: Mapped[datetime] = mapped_column()
    # bumped to void every session of this user (logout, password/role change, disable)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[datetime | None] = mapped_column()  # set: no sign-in, tokens dead
    # when the reader confirmed `email` through a mailed link (the digest's For you needs it)
    email_verified_at: Mapped[datetime | None] = mapped_column()
    # the categories the reader's daily lists and trending page show (`paperfeed.categories`); NULL: all
    list_categories: Mapped[list | None] = mapped_column(JSON(none_as_null=True))


class DailyEntry(Base):
    """A paper on the list of one day, curated or submitted by the community."""

    __tablename__ = "daily_entries"
    __table_args__ = (UniqueConstraint("day", "arxiv_id", name="uq_daily_day_paper"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"), index=True)
    curated: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_by_name: Mapped[str | None] = mapped_column(String(200))  # e.g. an HF username
    imported_upvotes: Mapped[int] = mapped_column(Integer, default=0)  # from the source list
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column()


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (Index("ix_votes_paper", "arxiv_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(
        ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column()


class JobState(Base):
    """Where a resumable job got to: an OAI-PMH resumption token, a harvest date."""

    __tablename__ = "job_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column()


class RateLimit(Base):
    """A fixed-window request counter (`login:ip:1.2.3.4:<window>`), shared by all web workers."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- email digest (issue "Email: subscriptions and the once-a-day digest") ---


class Subscriber(Base):
    """An email address that asked for the digest, with its preferences.

    `status`: pending (not yet confirmed; never mailed a digest, purged after a
    while), active, paused (too many permanent delivery failures), unsubscribed.
    """

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    frequency: Mapped[str] = mapped_column(String(8), default="daily")  # daily|weekly
    hour: Mapped[int] = mapped_column(Integer, default=8)  # local hour the digest is due
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # weekly: 0 = Monday
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    categories: Mapped[list] = mapped_column(JSON, default=list)  # empty: every category
    searches: Mapped[list] = mapped_column(JSON, default=list)  # saved search-box queries
    max_papers: Mapped[int] = mapped_column(Integer, default=10)
    created_at: Mapped[datetime] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column()
    unsubscribed_at: Mapped[datetime | None] = mapped_column()
    confirm_sent_at: Mapped[datetime | None] = mapped_column()  # rate-limits confirmation mail
    last_period: Mapped[str | None] = mapped_column(String(16))  # newest period composed
    last_window_end: Mapped[datetime | None] = mapped_column()  # end of the last digest sent
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive permanent failures
    # the personal sections (For you, followed authors) when the address is an account's verified one
    for_you: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class DigestOutbox(Base):
    """One digest to one subscriber for one period: the exactly-once record of sending.

    `status`: pending → sending (handed to SMTP) → sent, or failed (permanent
    SMTP error) or cancelled (unsubscribed before it went out).
    """

    __tablename__ = "digest_outbox"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "period", name="uq_outbox_subscriber_period"),
        Index("ix_outbox_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))  # D2026-11-22 or W2026-47
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message_id: Mapped[str] = mapped_column(String(255))
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    # [{"arxiv_id": ..., "reasons": [...], "section": ...}, ...] in digest order
    entries: Mapped[list] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()


class DigestSentPaper(Base):
    """A paper already put in a digest for a subscriber, so no digest repeats it."""

    __tablename__ = "digest_sent_papers"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    arxiv_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16))


# --- the reader's layer (issues "Safe to put on the internet" and "A reader's library") ---
# users.session_epoch: bumped on logout, password or role change and disable; a session
# cookie carries the epoch it was issued under and is void once they differ.


class Collection(Base):
    """A reader's named set of saved papers; each reader has one default "Reading list"."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("user_id", "slug", name="uq_collection_user_slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(120))  # stable URL part, unique per owner
    description: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class SavedPaper(Base):
    """A paper in a reader's library, with their private note."""

    __tablename__ = "saved_papers"
    __table_args__ = (Index("ix_saved_papers_paper", "arxiv_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(
        ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
    )
    note: Mapped[str] = mapped_column(Text, default="")
    saved_at: Mapped[datetime] = mapped_column()


# a reader's library newest first, read from the index alone: the library page, and the digest's
# For you reading 200 readers' libraries at a time (`recommend.source`)
Index("ix_saved_papers_user_saved", SavedPaper.user_id, SavedPaper.saved_at.desc(), SavedPaper.arxiv_id)


class CollectionPaper(Base):
    """Which saved paper is in which collection (a paper may be in several)."""

    __tablename__ = "collection_papers"
    __table_args__ = (Index("ix_collection_papers_paper", "arxiv_id"),)

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    arxiv_id: Mapped[str] = mapped_column(
        ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column()


class Follow(Base):
    """A reader follows an author (by folded full-name key) or a category (`cs.CL`, `cs`)."""

    __tablename__ = "follows"
    __table_args__ = (Index("ix_follows_target", "kind", "key"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # author|category
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    label: Mapped[str] = mapped_column(String(300), default="")  # the name as shown
    created_at: Mapped[datetime] = mapped_column()


class Dismissal(Base):
    """A "not interested" click: hidden from For you, its feed and the digest; a negative example."""

    __tablename__ = "dismissals"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(
        ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column()


class AccessToken(Base):
    """A personal access token (`Authorization: Bearer`), or a secret feed URL's token.

    Only the SHA-256 of the token is stored (tokens are 256-bit random, so a fast
    hash is enough); the token itself is shown once.  `scope`: `api` for personal
    access tokens, `feed:collection:<id>` or `feed:foryou` for feed URLs.
    """

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


# --- the library's lookup index (filled by the ingest upsert; rebuildable from `papers`) ---


class PaperAuthor(Base):
    """One author of one paper, under the folded full-name key (`paperfeed.names`).

    Lets an author page, a follow or the "maybe the same person" list find papers
    by index instead of reading every paper's JSON author list.  One index,
    (short, key), answers both "papers of this key" (its short key is a function
    of it) and "keys with this surname and initial"; the names as written stay
    in `papers.authors` (`position` points there).  SQLite stores the rows in
    primary-key order (WITHOUT ROWID): one B-tree fewer for the bulk ingest to fill.
    """

    __tablename__ = "paper_authors"
    __table_args__ = (Index("ix_paper_authors_short_key", "short", "key"), {"sqlite_with_rowid": False})

    arxiv_id: Mapped[str] = mapped_column(
        ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 = first author
    short: Mapped[str] = mapped_column(String(300))  # surname and first initial: "gu a"
    key: Mapped[str] = mapped_column(String(300))  # author_key(name): "albert gu"


class PaperTitle(Base):
    """A paper's folded title (hashed), so an imported BibTeX entry finds its paper by title."""

    __tablename__ = "paper_titles"
    __table_args__ = ({"sqlite_with_rowid": False},)

    arxiv_id: Mapped[str] = mapped_column(
        ForeignKey("papers.arxiv_id", ondelete="CASCADE"), primary_key=True
    )
    title_hash: Mapped[str] = mapped_column(String(32), index=True)


# --- the discussion on paper pages (issue #15: comments, replies, reports) ---


class Comment(Base):
    """A reader's comment on a paper, or a reply to one (`parent_id`: one level only).

    `body` is the Markdown as written; `html` its sanitised rendering
    (`paperfeed.discussion.render`), made when the comment is written.  A deleted
    comment that has replies stays, emptied, so the replies keep their place;
    `client_key` is the posting form's own key, so a form sent twice stores once.
    """

    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("user_id", "client_key", name="uq_comment_user_key"),
        Index("ix_comments_paper", "arxiv_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_key: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    edited_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    hidden_at: Mapped[datetime | None] = mapped_column()
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CommentReport(Base):
    """A reader's report of a comment (one per reader and comment), open until a curator
    hides the comment or dismisses the reports (`resolution`: hidden|dismissed)."""

    __tablename__ = "comment_reports"

    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
