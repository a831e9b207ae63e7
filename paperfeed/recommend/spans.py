"""
The windows "For you" ranks, as time spans: plain datetimes, no numpy, so the
web layer names them in an install without the `search` extra.

    since("week")   # the start of the last 7 days, on the hour
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WINDOWS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}


def since(name: str, now: datetime | None = None) -> datetime:
    """The start of the window `name` ("day", "week", "month"), on the hour."""
    now = now or datetime.now(UTC)
    start = now - WINDOWS[name]
    return start.replace(minute=0, second=0, microsecond=0)
