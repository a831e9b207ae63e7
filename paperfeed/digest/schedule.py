"""
When each subscriber's digest is due, and the scheduler `paperfeed serve` runs.

A digest belongs to a *period*: a local day (`D2026-11-22`) for daily
subscribers, an ISO week (`W2026-47`) for weekly ones.  It is due at the
subscriber's hour in their time zone (weekly: on their weekday).  A run sends
the newest period that is due and not yet done; a period missed while nothing
ran is caught up once, older ones are not.  A subscriber's first digest is the
first period due after they confirmed.  `paperfeed digest send --date D`
overrides the clock: every active subscriber's period containing D is due,
whatever the hour.

The embedded scheduler (`lifespan` / `start_scheduler`) runs the same send job
every few minutes in a worker thread of `paperfeed serve`; the send job's lock
makes several workers, or a cron job at the same time, harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from paperfeed import settings
from paperfeed.digest.subscriptions import zone

log = logging.getLogger("paperfeed.digest")

CHECK_EVERY_SECONDS = 300


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


def enabled() -> bool:
    return settings.value("digest_scheduler")


async def run_forever(engine, every: float = CHECK_EVERY_SECONDS) -> None:
    """Send due digests now and then every `every` seconds, until cancelled."""
    from paperfeed.digest import outbox

    while True:
        try:
            report = await asyncio.to_thread(outbox.run, engine)
            if report.sent or report.failed:
                log.info("digest: %s", report.line())
        except Exception:  # the scheduler must outlive a bad run; the next one retries
            log.exception("digest: scheduled run failed")
        await asyncio.sleep(every)


def start_scheduler(app) -> asyncio.Task | None:
    """Start the digest loop for `app` (uses `app.state.engine`) when `digest_scheduler` is on.

    Call from inside the running event loop (a lifespan or startup hook);
    cancel the returned task on shutdown.
    """
    if not enabled():
        return None
    task = asyncio.get_running_loop().create_task(run_forever(app.state.engine))
    app.state.digest_scheduler = task
    return task


@contextlib.asynccontextmanager
async def lifespan(app):
    """A FastAPI lifespan that runs the digest scheduler while the app serves."""
    task = start_scheduler(app)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
