"""
Sending digests for real over SMTP (aiosmtpd): exactly once per subscriber and
period across crashes (a SIGKILLed `paperfeed digest send` and injected
failures), temporary failures retried with backoff, permanent ones recorded
and pausing the subscription, the rate limit (on an injected clock), and the
lock that keeps two runs from sending at once.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from paperfeed import locks
from paperfeed.cli import cli
from paperfeed.digest import outbox, subscriptions
from paperfeed.digest.mail import Mailer, RateLimiter, SmtpConfig
from paperfeed.models import DigestOutbox, Subscriber
from tests.webdata import add_paper

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
TODAY = NOW.date()


def add_trending(engine, n: int = 3) -> None:
    for i in range(n):
        add_paper(engine, f"2611.{i + 1:05d}", f"Trending paper {i}", day=TODAY, upvotes=10 - i,
                  published=NOW - timedelta(days=2))


def add_subscribers(engine, n: int, hour: int = 0, papers: int = 10) -> None:
    rows = [
        {"email": f"reader{i:04d}@example.org", "status": "active", "frequency": "daily", "hour": hour,
         "weekday": 0, "timezone": "UTC", "categories": [], "searches": [], "max_papers": papers,
         "created_at": NOW - timedelta(days=2), "confirmed_at": NOW - timedelta(days=2), "failures": 0}
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), rows)


def statuses(engine) -> dict[str, int]:
    t = DigestOutbox.__table__
    with engine.connect() as conn:
        return dict(conn.execute(select(t.c.status, func.count()).group_by(t.c.status)).all())


def mailer(**kw) -> Mailer:
    return Mailer(SmtpConfig.from_settings(), **({"retries": 2, "backoff": 0, "rate_per_minute": 0} | kw))


def test_killed_send_job_rerun_delivers_each_digest_exactly_once(engine, smtp):
    add_trending(engine)
    add_subscribers(engine, 1000)
    command = [sys.executable, "-m", "paperfeed.cli", "digest", "send", "--date", TODAY.isoformat()]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def kill_at_100():
        while proc.poll() is None:
            if len(smtp.handler.messages) >= 100:
                proc.send_signal(signal.SIGKILL)
                return
            time.sleep(0.0005)

    killer = threading.Thread(target=kill_at_100)
    killer.start()
    proc.wait(timeout=300)
    killer.join()
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode()
    delivered_before = collections.Counter(r.message["Message-ID"] for r in smtp.messages)
    assert 100 <= sum(delivered_before.values()) < 1000
    left = statuses(engine)
    # the one row a kill can catch between "the server accepted" and "marked sent"
    assert left.get("sending", 0) <= 1
    t = DigestOutbox.__table__
    with engine.connect() as conn:
        in_gap = [m for (m,) in conn.execute(select(t.c.message_id).where(t.c.status == "sending"))]

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    received = collections.Counter(r.message["Message-ID"] for r in smtp.messages)
    per_recipient = collections.Counter(r.rcpt_tos[0] for r in smtp.messages)
    assert len(received) == 1000 and len(per_recipient) == 1000  # nobody skipped
    # nobody got a second copy, except (resent with the same Message-ID, so receivers
    # drop it) a message the server had accepted just before the kill
    duplicates = {m for m, n in received.items() if n > 1}
    assert all(received[m] == 2 for m in duplicates)
    assert duplicates <= {m for m in in_gap if delivered_before[m]}
    assert statuses(engine) == {"sent": 1000}
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(smtp.messages) == sum(received.values())


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


class CrashingMailer(Mailer):
    def __init__(self, after: int, accepted: bool):
        super().__init__(SmtpConfig.from_settings(), retries=0, backoff=0, rate_per_minute=0)
        self.left, self.accepted = after, accepted

    def send(self, msg):
        if self.left == 0:
            if self.accepted:  # the server has it, the job dies before recording it
                super().send(msg)
            raise Crash()
        self.left -= 1
        super().send(msg)


@pytest.mark.parametrize("accepted", [False, True], ids=["before-smtp", "after-smtp"])
def test_crash_at_each_side_of_the_smtp_reply(engine, smtp, accepted):
    add_trending(engine)
    add_subscribers(engine, 60)
    with pytest.raises(Crash):
        outbox.run(engine, now=NOW, mailer=CrashingMailer(after=25, accepted=accepted))
    assert statuses(engine) == {"sent": 25, "sending": 1, "pending": 34}
    report = outbox.run(engine, now=NOW, mailer=mailer())
    assert report.sent == 35 and report.resumed == 35
    received = collections.Counter(r.message["Message-ID"] for r in smtp.messages)
    assert len(received) == 60
    # the row caught in "sending" is sent again under the same Message-ID
    assert sorted(received.values()) == [1] * 59 + [2 if accepted else 1]
    assert outbox.run(engine, now=NOW + timedelta(hours=1), mailer=mailer()).sent == 0


def test_permanent_failures_are_recorded_and_pause_the_subscription(engine, smtp, monkeypatch):
    monkeypatch.setenv("PAPERFEED_DIGEST_FAILURE_LIMIT", "3")
    add_trending(engine, 10)
    add_subscribers(engine, 3, papers=2)
    bad = "reader0001@example.org"
    smtp.handler.fail = lambda stage, address: "550 5.1.1 No such user" if address == bad else None
    for day in range(4):
        report = outbox.run(engine, now=NOW + timedelta(days=day), mailer=mailer())
        assert report.failed == (1 if day < 3 else 0)
    assert subscriptions.find(engine, bad).status == "paused"
    assert subscriptions.find(engine, bad).failures == 3
    assert len(smtp.handler.to(bad)) == 0
    assert len(smtp.handler.to("reader0000@example.org")) == 4
    t = DigestOutbox.__table__
    with engine.connect() as conn:
        errors = conn.execute(select(t.c.last_error).where(t.c.status == "failed")).scalars().all()
    assert len(errors) == 3 and all("550" in e for e in errors)


def test_temporary_failures_are_retried_with_backoff(engine, smtp):
    add_trending(engine)
    add_subscribers(engine, 1)
    answers = ["451 4.3.0 Try again later", "421 4.7.0 Busy"]
    smtp.handler.fail = lambda stage, address: answers.pop(0) if stage == "data" and answers else None
    slept = []
    report = outbox.run(engine, now=NOW, mailer=mailer(retries=3, backoff=2.0, sleep=slept.append))
    assert report.sent == 1 and slept == [2.0, 4.0]
    assert len(smtp.messages) == 1


def test_a_server_that_stays_down_leaves_digests_queued(engine, smtp):
    add_trending(engine)
    add_subscribers(engine, 5)
    smtp.handler.fail = lambda stage, address: "451 4.3.0 Try again later"
    slept = []
    report = outbox.run(engine, now=NOW, mailer=mailer(retries=1, backoff=1.0, sleep=slept.append))
    assert report.sent == 0 and report.retry_later == 3 and report.stopped and report.exit_status == 1
    assert statuses(engine) == {"pending": 5}
    smtp.handler.fail = None
    report = outbox.run(engine, now=NOW + timedelta(minutes=15), mailer=mailer())
    assert report.sent == 5 and report.queued == 0
    assert len(smtp.messages) == 5


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


def test_rate_limit_holds_in_every_minute():
    clock = FakeClock()
    limiter = RateLimiter(10, clock, clock.sleep)
    times = []
    for _ in range(35):
        limiter.wait()
        times.append(clock())
        clock.t += 0.5  # composing and sending take a little time
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u - t < 60.0) <= 10
    assert times[-1] - times[0] >= 180.0


def test_send_job_respects_the_rate_limit(engine, smtp):
    add_trending(engine)
    add_subscribers(engine, 12)
    clock = FakeClock()
    report = outbox.run(engine, now=NOW, mailer=mailer(rate_per_minute=5, clock=clock, sleep=clock.sleep))
    assert report.sent == 12 and len(smtp.messages) == 12
    assert clock.t - 1000.0 >= 120.0  # 12 messages at 5 a minute: two full waits


def test_a_second_run_exits_locked(engine, smtp):
    add_trending(engine)
    add_subscribers(engine, 2)
    with outbox.send_lock(engine):
        with pytest.raises(locks.JobLocked):
            outbox.run(engine, now=NOW)
        result = CliRunner().invoke(cli, ["digest", "send"])
        assert result.exit_code == locks.EXIT_LOCKED, result.output
    assert len(smtp.messages) == 0
    assert outbox.run(engine, now=NOW).sent == 2


def test_cli_subscribe_dry_run_send_and_preview(engine, smtp):
    add_trending(engine)
    runner = CliRunner()
    r = runner.invoke(cli, ["subscribe", "ops@example.org", "--confirmed", "--search", "trending paper", "--hour", "7",
                            "--timezone", "Europe/Berlin"])
    assert r.exit_code == 0 and "active" in r.output, r.output
    r = runner.invoke(cli, ["subscribe", "someone@example.org"])
    assert r.exit_code == 0 and "confirmation email sent" in r.output
    assert "Confirm" in smtp.handler.to("someone@example.org")[0]["Subject"]
    r = runner.invoke(cli, ["subscribe", "not-an-address"])
    assert r.exit_code == 2
    r = runner.invoke(cli, ["digest", "preview", "ops@example.org", "--search-mode", "keyword"])
    assert r.exit_code == 0 and "Trending paper 0" in r.output
    r = runner.invoke(cli, ["digest", "send", "--date", TODAY.isoformat(), "--dry-run", "--search-mode", "keyword"])
    assert r.exit_code == 0 and "ops@example.org" in r.output
    assert statuses(engine) == {} and len(smtp.messages) == 1
    r = runner.invoke(cli, ["digest", "send", "--date", TODAY.isoformat(), "--search-mode", "keyword"])
    assert r.exit_code == 0 and "1 sent" in r.output, r.output
    r = runner.invoke(cli, ["digest", "send", "--date", TODAY.isoformat(), "--search-mode", "keyword"])
    assert r.exit_code == 0 and "0 sent" in r.output, r.output
    assert len(smtp.handler.to("ops@example.org")) == 1
    assert os.environ["PAPERFEED_SMTP_PORT"] == str(smtp.port)
