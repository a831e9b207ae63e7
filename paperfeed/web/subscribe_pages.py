"""
The digest's web pages: subscribe, confirm, unsubscribe, preferences, preview.

- `POST /subscribe` answers the same page, after the same work, whatever the
  address's state (new, pending, active, unsubscribed): it never tells a
  visitor whether someone is subscribed.  The email (a confirmation, or for an
  active subscriber a reminder with their links) goes out in the background,
  at most once per `confirm_resend_minutes` per address; requests per client
  are limited by `rate_limit_subscribe`.
- Every other page is reached only through a signed token from an email
  (`paperfeed.digest.subscriptions`); that token is the credential, so these
  pages need no login, and their forms no CSRF token: a forger would need the
  token.  The confirmation button carries one all the same: a page elsewhere
  that learnt a confirmation link cannot confirm it on the reader's behalf.
- No GET changes anything: mail scanners and link previews open every link
  in a message.  The confirmation link shows a button that POSTs the token;
  the unsubscribe link shows a button too.
- `POST /unsubscribe?token=` is RFC 8058 one-click: a mail client's
  `List-Unsubscribe=One-Click` POST takes effect at once.
- Links in the mails start with `siteurl.mail_site_url()`, never with the
  request's Host (a forged Host would put valid tokens in links to another
  site); without an address the form refuses, storing nothing.  Links on
  these pages start with `site_url` when it is set, else are relative.
"""

from __future__ import annotations

import logging
import zoneinfo
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from paperfeed import settings
from paperfeed.digest import render, subscriptions
from paperfeed.digest.subscriptions import (
    MAX_PAPERS,
    MAX_SEARCHES,
    SubscriptionError,
    TokenError,
    TokenExpired,
    TokenInvalid,
)
from paperfeed.siteurl import SiteUrlUnknown, mail_site_url
from paperfeed.web import accounts, security
from paperfeed.web.templating import render as render_page

router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API (docs/security.md)
log = logging.getLogger("paperfeed.web")
PAGES = Path(render.TEMPLATES) / "pages"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _page(request: Request, name: str, context: dict, status: int = 200) -> Response:
    # the digest's pages first, the site's templates (base.html, filters, context) for the rest
    response = render_page(request, name, context, status, pages=PAGES)
    response.headers["Cache-Control"] = "no-store"  # pages carry tokens and preferences
    response.headers["Referrer-Policy"] = "no-referrer"  # keep the token out of Referer headers
    return response


def install(app) -> None:
    """Answer every unusable link (expired, tampered, for a removed subscription) with a page."""

    @app.exception_handler(TokenError)
    def token_error(request: Request, exc: TokenError) -> Response:  # plain: its page reads the database
        return _token_error(request, exc)


def _token_error(request: Request, exc: TokenError) -> Response:
    if isinstance(exc, TokenExpired):
        lines = ["This confirmation link has expired. Enter your address to get a new one."]
        return _page(request, "message.html", {"title": "This link has expired", "lines": lines, "resubscribe": True}, 400)
    lines = ["This link is not valid (it may be incomplete, or the subscription was removed)."]
    if exc.purpose == "confirm":
        lines.append("Enter your address to get a new one.")
    return _page(request, "message.html", {"title": "This link does not work", "lines": lines, "resubscribe": exc.purpose == "confirm"}, 400)


def _page_base() -> str:
    """The base of links on these pages: the configured site, else none (relative links)."""
    return settings.get("site_url").rstrip("/")


def _engine(request: Request):
    return request.app.state.engine


def _send(mail, description: str) -> None:
    from paperfeed.digest.mail import Mailer

    mailer = Mailer()
    try:
        mailer.send(mail)
    except Exception:  # the visitor already has their page; the log tells the operator
        log.exception("could not send the %s email", description)
    finally:
        mailer.close()


@router.post("/subscribe")
def subscribe(
    request: Request, background: BackgroundTasks, email: str = Form(""), csrf_token: str = Form("")
) -> Response:
    accounts.check_csrf(request, csrf_token)
    engine = _engine(request)
    security.enforce(engine, "subscribe", security.client_bucket(request))  # IPv6: per /64
    try:
        base = mail_site_url()
    except SiteUrlUnknown:
        log.warning("subscribe form refused: no site_url for the links in the confirmation email")
        lines = ["This site cannot send email yet: its operator has not set the site's address (PAPERFEED_SITE_URL)."]
        return _page(request, "message.html", {"title": "Subscriptions are not open", "lines": lines}, 503)
    try:
        result = subscriptions.subscribe(engine, email[:400])
    except SubscriptionError as e:
        return _page(request, "message.html", {"title": "Check the address", "lines": [str(e)], "resubscribe": True}, 400)
    if result.send_confirmation or result.send_reminder:
        mail = render.confirmation_message(result.subscriber_id, result.email, base, reminder=result.send_reminder)
        background.add_task(_send, mail, "confirmation")
    return _page(request, "subscribe_done.html", {"email": result.email, "days": settings.get_int("confirm_days")})


@router.get("/subscribe/confirm")
def confirm_page(request: Request, token: str = "") -> Response:
    """The link in the confirmation mail: a page with a button, changing nothing
    (mail scanners and link previews open every link in a message)."""
    row = subscriptions.read_token(_engine(request), "confirm", token)
    if row.status == "unsubscribed":
        raise TokenInvalid("confirm")  # unsubscribing wins over an older confirmation link
    if row.status == "active":
        return _subscribed_page(request, row)
    return _page(request, "confirm.html", {"email": row.email, "token": token})


@router.post("/subscribe/confirm")
def confirm(request: Request, token: str = Form("", max_length=2000), csrf_token: str = Form("")) -> Response:
    """The button on that page: the subscription starts."""
    accounts.check_csrf(request, csrf_token)
    return _subscribed_page(request, subscriptions.confirm(_engine(request), token))


def _subscribed_page(request: Request, row) -> Response:
    urls = render.links(_page_base(), row.id, row.email)
    lines = [f"{row.email} will get the paperfeed digest: trending papers, plus new matches for your saved searches."]
    return _page(request, "message.html", {"title": "You are subscribed", "lines": lines, "manage_url": urls["manage_url"]})


def _unsubscribe_row(request: Request, token: str):
    return subscriptions.read_token(_engine(request), "unsubscribe", token)


@router.get("/unsubscribe")
def unsubscribe_page(request: Request, token: str = "") -> Response:
    row = _unsubscribe_row(request, token)
    urls = render.links(_page_base(), row.id, row.email)
    return _page(request, "unsubscribe.html", {
        "email": row.email, "token": token, "done": row.status == "unsubscribed", "manage_url": urls["manage_url"],
    })


@router.post("/unsubscribe")
def unsubscribe(request: Request, token: str = "") -> Response:
    """The button on the page, and RFC 8058 one-click (`List-Unsubscribe=One-Click`)."""
    row = _unsubscribe_row(request, token)
    subscriptions.unsubscribe(_engine(request), row.id)
    return _page(request, "unsubscribe.html", {"email": row.email, "token": token, "done": True})


def _manage_row(request: Request, token: str):
    return subscriptions.read_token(_engine(request), "manage", token)


def _preferences_page(request: Request, row, token: str, prefs: dict, status: int = 200, **extra) -> Response:
    urls = render.links(_page_base(), row.id, row.email)
    return _page(request, "preferences.html", {
        "email": row.email, "status": row.status, "token": token, "prefs": prefs,
        "weekdays": WEEKDAYS, "zones": _zones(), "max_searches": MAX_SEARCHES, "max_papers": MAX_PAPERS,
        **urls, **extra,
    }, status)


@lru_cache(maxsize=1)
def _zones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _prefs_of(row) -> dict:
    return {
        "frequency": row.frequency, "hour": row.hour, "weekday": row.weekday, "timezone": row.timezone,
        "categories": list(row.categories or []), "searches": list(row.searches or []), "max_papers": row.max_papers,
        "for_you": row.for_you,
    }


@router.get("/preferences")
def preferences_page(request: Request, token: str = "") -> Response:
    row = _manage_row(request, token)
    return _preferences_page(request, row, token, _prefs_of(row))


@router.post("/preferences")
def save_preferences(
    request: Request,
    token: str = "",
    frequency: str = Form("daily"),
    hour: str = Form(""),
    weekday: str = Form("0"),
    timezone: str = Form(""),
    categories: str = Form(""),
    search: Annotated[list[str] | None, Form()] = None,
    max_papers: str = Form(""),
    for_you: Annotated[list[str] | None, Form()] = None,
) -> Response:
    # a plain function, so FastAPI runs it in the thread pool: it reads and writes the database
    row = _manage_row(request, token)
    given = {
        "frequency": frequency, "hour": hour, "weekday": weekday or "0", "timezone": timezone,
        "categories": categories.replace(",", " ").split(), "searches": list(search or []), "max_papers": max_papers,
        # the form sends "off", then "on" when the box is ticked; a form without the field changes nothing
        "for_you": None if for_you is None else "on" in for_you,
    }
    try:
        subscriptions.update_preferences(_engine(request), row.id, **given)
    except SubscriptionError as e:
        shown = given | {"searches": [s for s in given["searches"] if s.strip()],
                         "for_you": row.for_you if given["for_you"] is None else given["for_you"]}
        return _preferences_page(request, row, token, shown, status=400, error=str(e))
    row = _manage_row(request, token)
    return _preferences_page(request, row, token, _prefs_of(row), saved=True)


@router.get("/digest/preview")
def preview(request: Request, token: str = "") -> Response:
    from paperfeed.digest import outbox

    row = _manage_row(request, token)
    digest, composer = outbox.preview(_engine(request), row)
    ctx = render.context(digest, composer.papers, row.frequency, _page_base())
    return _page(request, "preview.html", {
        "heading": ctx["heading"], "sections": ctx["sections"], "manage_url": ctx["manage_url"],
    })
