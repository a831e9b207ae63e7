"""
When digests are due: the subscriber's hour in their time zone (daylight
saving included), daily or weekly on their weekday, the newest missed period
caught up once, nothing before confirmation, and `--date` overriding the hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from paperfeed.digest.schedule import due, latest_due


def sub(**values):
    base = {"id": 1, "status": "active", "frequency": "daily", "hour": 8, "weekday": 0, "timezone": "UTC",
            "confirmed_at": datetime(2026, 1, 1, tzinfo=UTC), "last_period": None, "last_window_end": None}
    return SimpleNamespace(**(base | values))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_at_the_local_hour_across_daylight_saving():
    paris = sub(timezone="Europe/Paris")
    assert due(paris, at(2026, 7, 10, 5, 59)).period == "D2026-07-09"  # yesterday's, if never sent
    assert due(paris, at(2026, 7, 10, 6, 0)).due_at == at(2026, 7, 10, 6, 0)  # 08:00 CEST
    assert due(paris, at(2026, 12, 10, 7, 0)).due_at == at(2026, 12, 10, 7, 0)  # 08:00 CET
    sent = sub(timezone="Europe/Paris", last_period="D2026-07-10", last_window_end=at(2026, 7, 10, 6, 0))
    assert due(sent, at(2026, 7, 10, 23, 0)) is None
    assert due(sent, at(2026, 7, 11, 6, 0)).period == "D2026-07-11"
    tokyo = sub(timezone="Asia/Tokyo", hour=7)  # its day starts before UTC's
    assert due(tokyo, at(2026, 7, 9, 22, 0)).period == "D2026-07-10"


def test_only_the_newest_missed_period_and_nothing_before_confirmation():
    s = sub(last_period="D2026-03-01", last_window_end=at(2026, 3, 1, 8))
    assert due(s, at(2026, 3, 5, 12)).period == "D2026-03-05"
    fresh = sub(confirmed_at=at(2026, 3, 5, 9))
    assert due(fresh, at(2026, 3, 5, 12)) is None  # today's 08:00 was before they confirmed
    assert due(fresh, at(2026, 3, 6, 8)).period == "D2026-03-06"
    assert due(sub(status="pending"), at(2026, 3, 6, 8)) is None


def test_weekly_on_the_weekday():
    s = sub(frequency="weekly", weekday=2, hour=9, timezone="America/New_York")  # Wednesdays 09:00
    period, due_at = latest_due("weekly", 9, 2, "America/New_York", at(2026, 11, 20, 12))
    assert period == "W2026-47" and due_at == at(2026, 11, 18, 14)
    assert due(s, at(2026, 11, 18, 13, 59)).period == "W2026-46"
    assert due(s, at(2026, 11, 18, 14)).length == timedelta(days=7)


def test_date_overrides_the_hour():
    fresh = sub(confirmed_at=at(2026, 3, 5, 20), hour=23)
    d = due(fresh, at(2026, 3, 5, 21), on_date=date(2026, 3, 5))
    assert d.period == "D2026-03-05"


def test_served_app_runs_the_scheduler_and_test_apps_do_not(engine, monkeypatch):
    """`paperfeed serve` sends due digests itself unless PAPERFEED_DIGEST_SCHEDULER=false."""
    import asyncio

    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    monkeypatch.setenv("PAPERFEED_SITE_URL", "https://papers.example.org")  # no mail (no scheduler) without it
    with TestClient(create_app(engine, scheduler=True)) as client:
        task = client.app.state.digest_scheduler
        assert isinstance(task, asyncio.Task) and not task.done()
    with TestClient(create_app(engine)) as client:
        assert not hasattr(client.app.state, "digest_scheduler")
    monkeypatch.setenv("PAPERFEED_DIGEST_SCHEDULER", "false")
    with TestClient(create_app(engine, scheduler=True)) as client:
        assert not hasattr(client.app.state, "digest_scheduler")



def test_due_times_import_nothing_that_sends():
    """`schedule` is the pure due-time rules: the send job and its loop import it, so it must
    import neither of them, not even inside a function (that was an import cycle)."""
    import ast

    import paperfeed.digest.schedule as schedule

    imported = set()
    for node in ast.walk(ast.parse(open(schedule.__file__).read())):
        if isinstance(node, ast.ImportFrom):
            imported |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert not {m for m in imported if m.startswith(("paperfeed.digest.outbox", "paperfeed.digest.scheduler",
                                                         "paperfeed.digest.compose"))}, imported
