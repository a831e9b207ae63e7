"""
The `paperfeed subscribe` and `paperfeed digest ...` commands (for operators
and cron/systemd timers).  Exit statuses of `digest send`: 0 everything due
was sent (or nothing was due), 1 some digests failed or wait for a retry,
75 another run holds the lock (try again later), 78 (EX_CONFIG) no address
for the mails' links: `PAPERFEED_SITE_URL` is not set (a command has no
listen address to fall back on, see `paperfeed.siteurl`).  `paperfeed
subscribe` refuses the same way when it would send a confirmation.
"""

from __future__ import annotations

import sys
from datetime import date, datetime

import click

EXIT_NO_SITE_URL = 78  # sysexits EX_CONFIG: fix the configuration, then run again


def _mail_base() -> str:
    """The base of e-mailed links, or exit with one line saying why there is none."""
    from paperfeed import siteurl

    try:
        return siteurl.mail_site_url()
    except siteurl.SiteUrlUnknown as e:
        click.echo(f"refused: {e}", err=True)
        sys.exit(EXIT_NO_SITE_URL)


def _date(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter("expected YYYY-MM-DD") from e


@click.command("subscribe")
@click.argument("email")
@click.option("--confirmed", is_flag=True, help="Skip the confirmation email (the operator vouches for the address).")
@click.option("--search", "searches", multiple=True, metavar="QUERY", help="A saved search (repeatable, up to 10; any query the search box accepts).")
@click.option("--category", "categories", multiple=True, metavar="CAT", help="Only papers in this category (repeatable; `cs` means every cs.*).")
@click.option("--weekly", is_flag=True, help="One digest a week instead of one a day.")
@click.option("--hour", type=click.IntRange(0, 23), help="Local hour the digest is due (default: the digest_hour setting).")
@click.option("--timezone", "tz", metavar="TZ", help="IANA time zone of that hour, e.g. Europe/Paris.")
@click.option("--papers", type=click.IntRange(1, 50), help="Papers per digest.")
def subscribe(email, confirmed, searches, categories, weekly, hour, tz, papers) -> None:
    """Subscribe EMAIL to the digest (a confirmation email is sent unless --confirmed).

    Running it again for an address changes its preferences when --confirmed is given.

    Example: paperfeed subscribe ada@example.org --confirmed --search "state space models" --hour 7 --timezone Europe/London
    """
    from paperfeed import db
    from paperfeed.digest import render, subscriptions
    from paperfeed.digest.mail import Mailer, PermanentFailure, ServerRefused, TemporaryFailure

    base = None if confirmed else _mail_base()  # before anything is stored: a refusal changes nothing
    engine = db.connect()
    prefs = {
        "frequency": "weekly" if weekly else "daily", "hour": hour, "timezone": tz,
        "categories": categories, "searches": searches, "max_papers": papers,
    }
    try:
        result = subscriptions.subscribe(engine, email, confirmed=confirmed, **prefs)
    except subscriptions.SubscriptionError as e:
        raise click.UsageError(str(e)) from e
    if result.send_confirmation:
        mailer = Mailer()
        try:
            mailer.send(render.confirmation_message(result.subscriber_id, result.email, base or _mail_base()))
        except (TemporaryFailure, PermanentFailure, ServerRefused) as e:
            click.echo(f"{result.email}: pending, but the confirmation email could not be sent: {e}", err=True)
            sys.exit(1)
        finally:
            mailer.close()
        click.echo(f"{result.email}: pending; confirmation email sent")
    else:
        click.echo(f"{result.email}: {result.status}")


@click.group("digest")
def digest() -> None:
    """Send and preview the email digests.

    Example: paperfeed digest send
    """


@digest.command("send")
@click.option("--date", "on_date", callback=_date, metavar="YYYY-MM-DD", help="Send every subscriber's digest for the period containing this day, whatever their hour.")
@click.option("--dry-run", is_flag=True, help="Compose and list the digests that are due; send and record nothing.")
@click.option("--search-mode", type=click.Choice(["hybrid", "keyword", "semantic"]), default="hybrid", show_default=True, help="How saved searches are run.")
def send(on_date: date | None, dry_run: bool, search_mode: str) -> None:
    """Send the digests that are due now (run it from cron or a systemd timer, e.g. every 15 minutes).

    A digest is due at the subscriber's hour in their time zone (weekly ones on
    their weekday); the first one is the first due after they confirmed.
    --date sends the period containing that day to everyone, whatever the hour.
    Safe to run again at any time: a digest already sent is never sent twice,
    and a run that was killed is finished by the next one.  Exit status: 0 done,
    1 some digests failed or wait for a retry, 75 another run is sending,
    78 PAPERFEED_SITE_URL is not set (the links in the mails need it).

    Example: paperfeed digest send --date 2026-11-22
    """
    from paperfeed import db, locks
    from paperfeed.digest import outbox

    engine = db.connect()
    if dry_run:
        _dry_run(engine, on_date, search_mode)
        return
    _mail_base()  # refuse before taking the lock, in one line
    try:
        report = outbox.run(engine, on_date=on_date, search_mode=search_mode)
    except locks.JobLocked:
        click.echo("digest send: another run holds the lock; nothing done", err=True)
        sys.exit(locks.EXIT_LOCKED)
    click.echo(report.line())
    sys.exit(report.exit_status)


def _dry_run(engine, on_date: date | None, search_mode: str) -> None:
    from paperfeed.digest import outbox
    from paperfeed.digest.compose import Composer
    from paperfeed.digest.subscriptions import utcnow

    now = utcnow()
    composer = Composer(engine, outbox.clock_for(on_date, now), search_mode=search_mode)
    due = empty = 0
    for rows, dues in outbox.due_batches(engine, now, on_date):
        for d in composer.compose(rows, dues):
            due += 1
            empty += d.empty
            if not d.empty:
                click.echo(f"{d.email}\t{d.period}\t{len(d.arxiv_ids)} papers\t{' '.join(d.arxiv_ids)}")
    click.echo(f"{due} due, {empty} empty (dry run: nothing sent or recorded)", err=True)


@digest.command("preview")
@click.argument("email")
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text part.")
@click.option("--search-mode", type=click.Choice(["hybrid", "keyword", "semantic"]), default="hybrid", show_default=True)
def preview(email: str, html: bool, search_mode: str) -> None:
    """Print the digest EMAIL would get next (nothing is sent or recorded).

    Example: paperfeed digest preview ada@example.org
    """
    from paperfeed import db, siteurl
    from paperfeed.digest import outbox, render, subscriptions

    engine = db.connect()
    row = subscriptions.find(engine, email)
    if row is None:
        raise click.UsageError(f"{email} is not subscribed")
    digest_, composer = outbox.preview(engine, row, search_mode=search_mode)
    if digest_.empty:
        click.echo("(nothing new: no digest would be sent)")
        return
    msg = render.digest_message(digest_, composer.papers, row.frequency, siteurl.site_url(), datetime.now().astimezone())
    part = msg.get_body(("html",) if html else ("plain",))
    click.echo(part.get_content())
