"""
When each subscriber's digest is due: pure functions of a subscriber row and a clock.

A digest belongs to a *period*: a local day (`D2026-11-22`) for daily
subscribers, an ISO week (`W2026-47`) for weekly ones.  It is due at the
subscriber's hour in their time zone (weekly: on their weekday).  A run sends
the newest period that is due and not yet done; a period missed while nothing
ran is caught up once, older ones are not.  A subscriber's first digest is the
first period due after they confirmed.  `paperfeed digest send --date D`
overrides the clock: every active subscriber's period containing D is due,
whatever the hour.

The loop that sends what is due inside `paperfeed serve` is
`paperfeed.digest.scheduler`; this module sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from paperfeed.digest.subscriptions import zone


@dataclass(frozen=True)
class Due:
    subscriber_id: int
    period: str
    due_at: datetime  # UTC; also the end of the digest's window
    length: timedelta  # one day or one week


def period_length(frequency: str) -> timedelta:
    return timedelta(days=7) if frequency == "weekly" else timedelta(days=1)


def _at(day: date, hour: int, tz) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def period_for(frequency: str, day: date, hour: int, weekday: int, tz) -> tuple[str, datetime]:
    """The period containing local `day`, and when its digest is due (UTC)."""
    if frequency == "weekly":
        year, week, _ = day.isocalendar()
        monday = day - timedelta(days=day.weekday())
        return f"W{year}-{week:02d}", _at(monday + timedelta(days=weekday), hour, tz)
    return f"D{day.isoformat()}", _at(day, hour, tz)


def latest_due(frequency: str, hour: int, weekday: int, tz_name: str, now: datetime) -> tuple[str, datetime]:
    """The newest period whose digest is due at or before `now`."""
    tz = zone(tz_name)
    today = now.astimezone(tz).date()
    period, due_at = period_for(frequency, today, hour, weekday, tz)
    if due_at > now:
        period, due_at = period_for(frequency, today - period_length(frequency), hour, weekday, tz)
    return period, due_at


def due(row, now: datetime, on_date: date | None = None) -> Due | None:
    """The digest `row` (a subscribers row) should get now, if any."""
    if row.status != "active":
        return None
    try:
        if on_date is not None:
            period, due_at = period_for(row.frequency, on_date, row.hour, row.weekday, zone(row.timezone))
        else:
            period, due_at = latest_due(row.frequency, row.hour, row.weekday, row.timezone, now)
            if row.confirmed_at is not None and due_at < row.confirmed_at:
                return None
    except (KeyError, ValueError):  # a time zone that vanished from tzdata
        return None
    if period == row.last_period:
        return None
    if row.last_window_end is not None and due_at <= row.last_window_end:
        return None
    return Due(row.id, period, due_at, period_length(row.frequency))
