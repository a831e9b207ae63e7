"""
The send job: exactly one digest per subscriber and period, even across crashes.

    compose → insert outbox row (unique on subscriber + period), record its papers
            → mark "sending" → SMTP → mark "sent" (its own tiny transaction)

The outbox row, the papers it sends and the subscriber's `last_period` are
written in one transaction, so a digest is either fully queued or not at all;
a re-run resumes the queue before composing anything new and never composes a
period twice.  Each message has a deterministic Message-ID.

The gap between "the server accepted the message" and "the row says sent"
cannot be closed (SMTP has no two-phase commit).  A row found in "sending"
after a crash is *sent again with the same Message-ID*: the gap after the
server's reply is one local UPDATE, much shorter than the SMTP exchange before
it, so resending mislabels the rarer case; a duplicate with an identical
Message-ID is dropped or collapsed by most mail systems, while a skipped digest
is lost silently.

Only one run sends at a time: it holds the "digest" job lock
(`paperfeed.locks`: a PostgreSQL advisory lock, or a `flock` on SQLite), which
vanishes with the process, so a killed run never leaves a stale lock.  A second
run raises `locks.JobLocked` (`paperfeed digest send` exits `locks.EXIT_LOCKED`, 75).
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import Engine, bindparam, insert, select, update

from paperfeed import locks, settings, siteurl
from paperfeed.digest import parallel, render
from paperfeed.digest.compose import Composer, Digest
from paperfeed.digest.mail import Mailer, PermanentFailure, ServerRefused, TemporaryFailure
from paperfeed.digest.schedule import Due, due, latest_due, period_length
from paperfeed.digest.subscriptions import purge_unconfirmed, utcnow
from paperfeed.models import DigestOutbox, DigestSentPaper, Subscriber

log = logging.getLogger("paperfeed.digest")
outbox_t = DigestOutbox.__table__
sent_t = DigestSentPaper.__table__
subs_t = Subscriber.__table__

BATCH = 1_000
GIVE_UP_AFTER = 3  # consecutive temporary failures that end the run (the server is down)


@dataclass
class Report:
    due: int = 0
    empty: int = 0
    queued: int = 0
    resumed: int = 0  # rows left pending or sending by an earlier run
    sent: int = 0
    failed: int = 0  # permanent failures
    retry_later: int = 0
    cancelled: int = 0
    paused: int = 0
    stopped: str = ""  # why sending stopped early
    sent_ids: list[int] = field(default_factory=list)

    def line(self) -> str:
        text_ = (
            f"{self.due} due, {self.empty} empty, {self.queued} queued, {self.sent} sent, "
            f"{self.failed} failed, {self.retry_later} to retry, {self.cancelled} cancelled, "
            f"{self.paused} subscriptions paused"
        )
        if self.resumed:
            text_ += f"; resumed {self.resumed} from an earlier run"
        return text_ + (f"; stopped: {self.stopped}" if self.stopped else "")

    @property
    def exit_status(self) -> int:
        return 1 if (self.failed or self.retry_later or self.stopped) else 0


def send_lock(engine: Engine):
    """Hold the digest send lock for the duration of the block, or raise `locks.JobLocked`."""
    return locks.job_lock("digest", engine)


def clock_for(on_date: date | None, now: datetime) -> datetime:
    """The moment a run composes at: now, or the end of `on_date` if that is earlier."""
    if on_date is None:
        return now
    return min(now, datetime.combine(on_date, time(23, 59, 59), tzinfo=UTC))


def due_batches(engine: Engine, now: datetime, on_date: date | None = None, batch: int = BATCH):
    """(rows, dues) of active subscribers with a digest due, `batch` at a time."""
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(subs_t).where(subs_t.c.status == "active", subs_t.c.id > last).order_by(subs_t.c.id).limit(batch)
            ).all()
        if not rows:
            return
        last = rows[-1].id
        pairs = [(r, d) for r in rows if (d := due(r, now, on_date)) is not None]
        if pairs:
            yield [r for r, _ in pairs], [d for _, d in pairs]


def enqueue(engine: Engine, digests: list[Digest], base: str, now: datetime, report: Report) -> None:
    """Queue the non-empty digests and mark every period done, in one transaction."""
    with engine.begin() as conn:
        existing = set(
            conn.execute(
                select(outbox_t.c.subscriber_id, outbox_t.c.period).where(
                    outbox_t.c.subscriber_id.in_([d.subscriber_id for d in digests])
                )
            ).all()
        )
        rows, papers, done = [], [], []
        for d in digests:
            if (d.subscriber_id, d.period) in existing:
                continue
            if d.empty:
                report.empty += 1
                done.append({"sid": d.subscriber_id, "period": d.period, "end": None})
                continue
            rows.append({
                "subscriber_id": d.subscriber_id, "period": d.period, "status": "pending",
                "message_id": render.message_id(d.subscriber_id, d.period, base),
                "window_start": d.window_start, "window_end": d.window_end,
                "entries": d.entries_json(), "attempts": 0, "created_at": now,
            })
            papers.extend({"subscriber_id": d.subscriber_id, "arxiv_id": a, "period": d.period} for a in d.arxiv_ids)
            done.append({"sid": d.subscriber_id, "period": d.period, "end": d.window_end})
        if rows:
            conn.execute(insert(outbox_t), rows)
            conn.execute(insert(sent_t), papers)
        with_end = [x for x in done if x["end"] is not None]
        without = [x for x in done if x["end"] is None]
        if with_end:
            conn.execute(
                update(subs_t).where(subs_t.c.id == bindparam("sid"))
                .values(last_period=bindparam("period"), last_window_end=bindparam("end")),
                with_end,
            )
        if without:
            conn.execute(
                update(subs_t).where(subs_t.c.id == bindparam("sid")).values(last_period=bindparam("period")),
                [{"sid": x["sid"], "period": x["period"]} for x in without],
            )
        report.queued += len(rows)


def _mark(engine: Engine, row_id: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(outbox_t).where(outbox_t.c.id == row_id).values(**values))


def _queued(engine: Engine, after_id: int, limit: int):
    with engine.connect() as conn:
        return conn.execute(
            select(outbox_t, subs_t.c.email, subs_t.c.status.label("sub_status"), subs_t.c.frequency,
                   subs_t.c.failures)
            .join(subs_t, subs_t.c.id == outbox_t.c.subscriber_id)
            .where(outbox_t.c.status.in_(("pending", "sending")), outbox_t.c.id > after_id)
            .order_by(outbox_t.c.id)
            .limit(limit)
        ).all()


@dataclass
class Cursor:
    """Where sending got to in this run: rows at or before `last` are not tried again."""

    last: int = 0
    temporary_in_a_row: int = 0


def send_queued(engine: Engine, mailer: Mailer, base: str, report: Report, cursor: Cursor, resuming: bool = False) -> bool:
    """Send the queued digests after the cursor; False when sending had to stop (server down or refusing us)."""
    while rows := _queued(engine, cursor.last, 200):
        cursor.last = rows[-1].id
        composer = Composer(engine, utcnow())
        composer.load_papers(e["arxiv_id"] for r in rows for e in r.entries)
        for r in rows:
            if resuming:
                report.resumed += 1
            if r.sub_status != "active":
                _mark(engine, r.id, status="cancelled")
                report.cancelled += 1
                continue
            digest = Digest.from_json(r.subscriber_id, r.email, r.period, r.window_start, r.window_end, r.entries)
            msg = render.digest_message(digest, composer.papers, r.frequency, base)
            del msg["Message-ID"]
            msg["Message-ID"] = r.message_id  # the one queued, whatever the site URL is now
            _mark(engine, r.id, status="sending", attempts=r.attempts + 1)
            try:
                mailer.send(msg)
            except PermanentFailure as e:
                _fail(engine, r, str(e), report)
                cursor.temporary_in_a_row = 0
                continue
            except TemporaryFailure as e:
                _mark(engine, r.id, status="pending", last_error=str(e)[:1000])
                report.retry_later += 1
                cursor.temporary_in_a_row += 1
                if cursor.temporary_in_a_row >= GIVE_UP_AFTER:
                    report.stopped = f"the SMTP server keeps failing ({e})"
                    return False
                continue
            except ServerRefused as e:
                _mark(engine, r.id, status="pending", last_error=str(e)[:1000])
                report.stopped = f"the SMTP server refused us: {e}"
                return False
            with engine.begin() as conn:  # right after the server's reply: the gap stays tiny
                conn.execute(update(outbox_t).where(outbox_t.c.id == r.id).values(status="sent", sent_at=utcnow()))
                if r.failures:
                    conn.execute(update(subs_t).where(subs_t.c.id == r.subscriber_id).values(failures=0))
            cursor.temporary_in_a_row = 0
            report.sent += 1
            report.sent_ids.append(r.subscriber_id)
    return True


def _fail(engine: Engine, r, error: str, report: Report) -> None:
    limit = settings.get_int("digest_failure_limit")
    failures = r.failures + 1
    with engine.begin() as conn:
        conn.execute(update(outbox_t).where(outbox_t.c.id == r.id).values(status="failed", last_error=error[:1000]))
        values = {"failures": failures}
        if failures >= limit:
            values["status"] = "paused"
            report.paused += 1
        conn.execute(update(subs_t).where(subs_t.c.id == r.subscriber_id).values(**values))
    report.failed += 1


def run(
    engine: Engine,
    now: datetime | None = None,
    on_date: date | None = None,
    mailer: Mailer | None = None,
    search_mode: str = "hybrid",
    batch: int = BATCH,
) -> Report:
    """Send every digest that is due (and whatever an earlier run left queued).

    Raises `locks.JobLocked` when another run is sending, and
    `siteurl.SiteUrlUnknown` when no address for the mails' links is known.
    """
    now = now or utcnow()
    base = siteurl.mail_site_url()
    report = Report()
    with send_lock(engine):
        purge_unconfirmed(engine, now)
        mailer = mailer or Mailer()
        try:
            cursor = Cursor()
            if not send_queued(engine, mailer, base, report, cursor, resuming=True):
                return report
            # closed on leaving: the workers' batches not queued yet are composed again next run
            with closing(parallel.composed(engine, clock_for(on_date, now), due_batches(engine, now, on_date, batch),
                                           search_mode=search_mode)) as batches:
                for rows, digests in batches:
                    report.due += len(rows)
                    enqueue(engine, digests, base, now, report)
                    if not send_queued(engine, mailer, base, report, cursor):
                        break
        finally:
            mailer.close()
    return report


def preview(engine: Engine, row, now: datetime | None = None, search_mode: str = "hybrid") -> tuple[Digest, Composer]:
    """The digest `row` would get next (composed, not queued, nothing recorded)."""
    now = now or utcnow()
    period, due_at = latest_due(row.frequency, row.hour, row.weekday, row.timezone, now)
    composer = Composer(engine, now, search_mode=search_mode)
    due_ = Due(row.id, period, max(due_at, now), period_length(row.frequency))
    return composer.compose([row], [due_])[0], composer
