"""The trending score (`paperfeed.trending`): its ordering properties, the window, hidden entries."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from paperfeed import trending
from paperfeed.web import accounts
from tests.webdata import add_paper, add_vote

NOW = datetime(2026, 10, 10, 12, tzinfo=UTC)


def test_half_life():
    assert trending.score([(NOW, 1)], NOW, half_life=24) == 1.0
    assert math.isclose(trending.score([(NOW - timedelta(hours=24), 1)], NOW, half_life=24), 0.5)
    assert math.isclose(trending.score([(NOW - timedelta(hours=48), 4)], NOW, half_life=24), 1.0)
    assert trending.score([(NOW + timedelta(hours=5), 1)], NOW, half_life=24) == 1.0  # future counts fully
    assert trending.score([], NOW) == 0.0


def test_newer_beats_older_at_equal_votes():
    newer = trending.score([(NOW - timedelta(hours=3), 10)], NOW)
    older = trending.score([(NOW - timedelta(hours=30), 10)], NOW)
    assert newer > older


def test_more_votes_beat_fewer_at_equal_age():
    at = NOW - timedelta(hours=10)
    assert trending.score([(at, 11)], NOW) > trending.score([(at, 10)], NOW)


def test_log_score_never_underflows():
    ancient = [(NOW - timedelta(days=3650), 5)]
    older = [(NOW - timedelta(days=3651), 5)]
    assert trending.score(ancient, NOW) == 0.0  # the plain score underflows ...
    assert trending.log_score(ancient, NOW) > trending.log_score(older, NOW)  # ... the log does not


def test_trending_ranks_imported_and_cast_votes(engine):
    day = date(2026, 10, 9)
    add_paper(engine, "2610.00001", "Old favourite", day=day - timedelta(days=2), upvotes=10)
    add_paper(engine, "2610.00002", "Fresh", day=day, upvotes=10)
    add_paper(engine, "2610.00003", "Voted now", day=day, upvotes=0)
    add_paper(engine, "2610.00004", "Nobody cares", day=day, upvotes=0)
    uid = accounts.create_user(engine, "voter", "long enough")
    add_vote(engine, uid, "2610.00003", at=NOW - timedelta(hours=1))
    ranked = trending.trending(engine, since=day - timedelta(days=7), until=NOW)
    ids = [a for a, _ in ranked]
    # 10 x 2^-1.5 (36 h old) > 1 x 2^-(1/24) (an hour old) > 10 x 2^-3.5 (84 h old); no upvotes, no place
    assert ids == ["2610.00002", "2610.00003", "2610.00001"]
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)


def test_window_and_hidden_entries(engine):
    add_paper(engine, "2610.00001", "Inside", day=date(2026, 10, 5), upvotes=3)
    add_paper(engine, "2610.00002", "Before the window", day=date(2026, 9, 1), upvotes=50)
    add_paper(engine, "2610.00003", "Hidden", day=date(2026, 10, 6), upvotes=99)
    with engine.begin() as conn:
        conn.execute(trending.entries.update().where(trending.entries.c.arxiv_id == "2610.00003").values(hidden=True))
    ranked = trending.trending(engine, since=date(2026, 10, 1), until=date(2026, 10, 7), limit=10)
    assert [a for a, _ in ranked] == ["2610.00001"]


def test_default_window_is_recent_days(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_TRENDING_DAYS", "3")
    today = datetime.now(UTC).date()
    add_paper(engine, "2610.00001", "Recent", day=today, upvotes=1)
    add_paper(engine, "2610.00002", "Too old", day=today - timedelta(days=10), upvotes=100)
    assert [a for a, _ in trending.trending(engine)] == ["2610.00001"]
