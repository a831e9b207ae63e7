"""`paperfeed migrate-db`: every table copied from SQLite, contents equal, sequences right.

The source is always SQLite (what operators move away from); the target is the
PostgreSQL test server when `PAPERFEED_TEST_POSTGRES_URL` is set, else another
SQLite file, which still runs every step but the sequence reset.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, insert, select

from paperfeed import db
from paperfeed.cli import cli
from paperfeed.ingest.run import ingest_sources
from paperfeed.models import (
    AccessToken,
    Collection,
    CollectionPaper,
    Comment,
    CommentReport,
    DailyEntry,
    DigestOutbox,
    DigestSentPaper,
    Dismissal,
    Follow,
    JobState,
    Paper,
    RateLimit,
    SavedPaper,
    Subscriber,
    User,
    Vote,
)
from paperfeed.ops.demo import sample_files
from paperfeed.ops.migrate import TargetNotEmpty, copy_database, tables, uncopied
from tests.databases import second_database

pytestmark = pytest.mark.database  # the target is the PostgreSQL test server's on that pass

T0 = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def source(data_dir, monkeypatch):
    with second_database(data_dir, postgres=False) as url:  # migrate-db copies from SQLite
        monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
        engine = db.connect(url)
        fill(engine)
        yield engine


@pytest.fixture
def target_url(tmp_path):
    with second_database(tmp_path / "target") as url:
        yield url


def fill(engine) -> None:
    """The demo corpus plus users, votes, submissions, subscriptions and digests."""
    summary = ingest_sources([str(p) for p in sample_files()], engine=engine)
    assert summary.new > 300 and summary.daily_entries > 0
    rng = random.Random(7)
    with engine.connect() as conn:
        ids = sorted(conn.execute(select(Paper.arxiv_id)).scalars())
    with engine.begin() as conn:
        conn.execute(insert(User), [
            {"username": f"reader{i}", "email": f"r{i}@example.org", "password_hash": f"$argon2id$v=19$fake{i}",
             "role": ("reader", "curator", "admin")[i % 3], "created_at": T0 + timedelta(minutes=i)}
            for i in range(40)
        ])
        conn.execute(delete(User).where(User.username.in_(["reader39", "reader17"])))  # gaps, and the largest id gone
        users = list(conn.execute(select(User.id)).scalars())
        pairs = {(rng.choice(users), rng.choice(ids)) for _ in range(600)}
        conn.execute(insert(Vote), [
            {"user_id": u, "arxiv_id": a, "created_at": T0 + timedelta(seconds=rng.randrange(86400))} for u, a in pairs
        ])
        conn.execute(insert(DailyEntry), [
            {"day": date(2026, 11, 21), "arxiv_id": a, "curated": False, "submitted_by_user": users[k],
             "imported_upvotes": 0, "pinned": k == 0, "hidden": k == 1, "created_at": T0}
            for k, a in enumerate(ids[:8])
        ])
        conn.execute(insert(Subscriber), [
            {"email": f"s{i}@example.org", "status": ("active", "pending", "paused", "unsubscribed")[i % 4],
             "frequency": "weekly" if i % 5 == 0 else "daily", "hour": i % 24, "weekday": i % 7,
             "timezone": ("UTC", "Europe/Paris", "America/New_York")[i % 3],
             "categories": ["cs.LG", "cs.CL"][: i % 3], "searches": [f"query {i}", "état de l'art ∑"][: i % 3],
             "max_papers": 5 + i, "created_at": T0, "confirmed_at": T0 + timedelta(hours=1) if i % 4 != 1 else None,
             "unsubscribed_at": None, "confirm_sent_at": T0, "last_period": None, "last_window_end": None,
             "failures": i % 2}
            for i in range(20)
        ])
        subs = list(conn.execute(select(Subscriber.id).order_by(Subscriber.id)).scalars())
        outbox, sent = [], []
        for k, sid in enumerate(subs[:12]):
            chosen = rng.sample(ids, 3)
            outbox.append({
                "subscriber_id": sid, "period": "D2026-11-21", "status": ("sent", "pending", "failed")[k % 3],
                "message_id": f"<digest-{sid}@example.org>", "window_start": T0 - timedelta(days=1), "window_end": T0,
                "entries": [{"arxiv_id": a, "reasons": ["trending"], "section": "trending"} for a in chosen],
                "attempts": k % 3, "last_error": "550 no such user" if k % 3 == 2 else None,
                "created_at": T0, "sent_at": T0 if k % 3 == 0 else None,
            })
            sent += [{"subscriber_id": sid, "arxiv_id": a, "period": "D2026-11-21"} for a in chosen]
        conn.execute(insert(DigestOutbox), outbox)
        conn.execute(insert(DigestSentPaper), sent)
        conn.execute(insert(RateLimit), [
            {"key": f"login:ip:10.0.0.{i}:123", "count": i, "expires_at": T0 + timedelta(minutes=i)} for i in range(5)
        ])
        fill_library(conn, users, ids, rng)
        fill_discussion(conn, users, ids)
        conn.execute(insert(JobState), [
            {"key": "oai:https://oaipmh.arxiv.org/oai:cs:arXivRaw", "value": {"last": "2026-11-20"}, "updated_at": T0}
        ])


def fill_discussion(conn, users: list[int], ids: list[str]) -> None:
    """Comments with replies (rows that point at rows of their own table), hidden and
    deleted ones, and reports."""
    conn.execute(insert(Comment), [
        {"id": i + 1, "arxiv_id": ids[i % 3], "parent_id": None if i < 6 else (i % 6) + 1,
         "user_id": None if i == 2 else users[i % 7], "client_key": f"key-{i:020d}", "body": f"comment {i} with $x_{i}$",
         "html": f"<p>comment {i}</p>", "created_at": T0 + timedelta(minutes=i), "edited_at": T0 if i == 4 else None,
         "deleted_at": T0 if i == 2 else None, "hidden_at": T0 if i == 5 else None, "hidden_by": users[1] if i == 5 else None}
        for i in range(15)
    ])
    conn.execute(insert(CommentReport), [
        {"comment_id": c, "user_id": users[k], "reason": "spam" if k else "", "created_at": T0,
         "resolved_at": T0 if c == 6 else None, "resolution": "hidden" if c == 6 else None,
         "resolved_by": users[1] if c == 6 else None}
        for c in (1, 6, 9) for k in range(2, 4)
    ])


def fill_library(conn, users: list[int], ids: list[str], rng: random.Random) -> None:
    """Collections, saved papers with notes, follows, dismissals and tokens of a few readers."""
    conn.execute(insert(Collection), [
        {"user_id": u, "name": name, "slug": slug, "description": "d", "is_default": slug == "reading-list",
         "is_public": slug == "public", "created_at": T0, "updated_at": T0}
        for u in users[:5] for name, slug in (("Reading list", "reading-list"), ("Public", "public"))
    ])
    collections = list(conn.execute(select(Collection.id, Collection.user_id)))
    saved = {(u, a) for u in users[:5] for a in rng.sample(ids, 6)}
    conn.execute(insert(SavedPaper), [
        {"user_id": u, "arxiv_id": a, "note": "line one\nline ≠ two", "saved_at": T0} for u, a in saved
    ])
    conn.execute(insert(CollectionPaper), [
        {"collection_id": cid, "arxiv_id": a, "added_at": T0}
        for cid, owner in collections for u, a in saved if u == owner
    ])
    conn.execute(insert(Follow), [
        {"user_id": u, "kind": kind, "key": key, "label": key, "created_at": T0}
        for u in users[:5] for kind, key in (("author", "albert gu"), ("category", "cs.CL"))
    ])
    conn.execute(insert(Dismissal), [{"user_id": users[0], "arxiv_id": a, "created_at": T0} for a in ids[-3:]])
    conn.execute(insert(AccessToken), [
        {"user_id": u, "scope": "api", "name": "laptop", "token_hash": f"{u:064x}", "prefix": "pf_abc",
         "created_at": T0, "expires_at": None, "last_used_at": None, "revoked_at": None}
        for u in users[:3]
    ])


def contents(engine) -> dict[str, dict]:
    """Every row of every table, keyed by primary key (so collation does not matter)."""
    out = {}
    with engine.connect() as conn:
        for table in tables():
            pk = [c.name for c in table.primary_key.columns]
            rows = conn.execute(select(table)).mappings().all()
            out[table.name] = {tuple(r[c] for c in pk): dict(r) for r in rows}
    return out


def test_copies_every_table_with_equal_contents(source, target_url):
    target = db.connect(target_url)
    copies = copy_database(source, target, batch_size=97)
    assert [c.table for c in copies] == [t.name for t in tables()]
    assert all(c.ok and c.source > 0 for c in copies), copies  # every table had rows, all arrived
    want, got = contents(source), contents(target)
    for name in want:
        assert got[name] == want[name], f"{name} differs"


def test_new_rows_after_the_copy_get_fresh_ids(source, target_url):
    target = db.connect(target_url)
    copy_database(source, target)
    for model in (User, Subscriber, DailyEntry, DigestOutbox):
        with target.connect() as conn:
            largest = conn.execute(select(func.max(model.id))).scalar_one()
        row = {
            User: {"username": "newcomer", "created_at": T0},
            Subscriber: {"email": "new@example.org", "created_at": T0},
            DailyEntry: {"day": date(2026, 11, 23), "arxiv_id": _any_paper(target), "created_at": T0},
            DigestOutbox: {"subscriber_id": largest_subscriber(target), "period": "D2026-11-22", "message_id": "<m>",
                           "window_start": T0, "window_end": T0, "created_at": T0},
        }[model]
        with target.begin() as conn:
            new_id = conn.execute(insert(model).values(**row).returning(model.id)).scalar_one()
        assert new_id == largest + 1, model.__tablename__


def _any_paper(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Paper.arxiv_id).limit(1)).scalar_one()


def largest_subscriber(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.max(Subscriber.id))).scalar_one()


def test_refuses_a_target_with_rows_unless_forced(source, target_url):
    target = db.connect(target_url)
    with target.begin() as conn:
        conn.execute(insert(User).values(username="already-here", created_at=T0))
    with pytest.raises(TargetNotEmpty, match="users 1"):
        copy_database(source, target)
    copies = copy_database(source, target, force=True)
    assert all(c.ok for c in copies)
    with target.connect() as conn:
        assert conn.execute(select(User.id).where(User.username == "already-here")).first() is None


def test_command_prints_counts_and_exit_statuses(source, target_url):
    runner = CliRunner()
    done = runner.invoke(cli, ["migrate-db", "--to", target_url, "--batch-size", "50"])
    assert done.exit_code == 0, done.output
    assert "MISMATCH" not in done.output and "copied" in done.output
    for table in tables():
        assert any(line.startswith(table.name) and line.endswith("ok") for line in done.output.splitlines()), table.name
    again = runner.invoke(cli, ["migrate-db", "--to", target_url])
    assert again.exit_code == 1 and "not empty" in again.output
    assert runner.invoke(cli, ["migrate-db", "--to", target_url, "--force"]).exit_code == 0


def test_every_table_of_the_schema_is_copied(source):
    # a migration adding a table the models lack would leave it behind: catch that here
    assert uncopied(source) == []
