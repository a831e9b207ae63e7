"""
A reader's account page (issue #13): their e-mail address and whether it is
verified, download everything stored about them as JSON, and delete the
account.

The address (issue #14) is changed with a form (a new address is unverified)
and verified with a mailed link (`digest.verification`): asking for one needs
the signed-in reader, the form's CSRF token and stays under
`rate_limit_verify_email`; its URL starts with `siteurl.mail_site_url()`, never
the request's Host.  The link opens a page with a button for the account it
was sent for; a forged, expired or outdated link gets a page that says so.

The download (`library.account.export_user_data`: library, notes,
collections, follows, votes, submissions, token names, the digest
subscription of their address) is a GET for the signed-in reader only,
answered as an attachment that is never cached.  Deleting needs the password
and the form's CSRF token; it deletes the library, notes, follows and tokens
(`library.account.delete_user`) in one transaction, so the account's API
tokens and feed URLs stop working at once, and signs the browser out.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine, select

from paperfeed.digest import verification
from paperfeed.digest.subscriptions import SubscriptionError, TokenError, TokenExpired
from paperfeed.library import account
from paperfeed.models import User
from paperfeed.siteurl import SiteUrlUnknown, mail_site_url
from paperfeed.web import accounts, security
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

log = logging.getLogger("paperfeed.web")
router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API
users = User.__table__
PAGE = "/settings/account"
CONFIRM = verification.CONFIRM_PATH
NO_STORE = {"Cache-Control": "no-store"}
DONE = {  # ?done= after a form, said on the page
    "email": "Your e-mail address is saved.",
    "removed": "Your e-mail address is removed.",
    "sent": "We sent a verification link to your address. Open it while signed in here.",
    "verified": "Your e-mail address is verified.",
}


def _page(request: Request, error: str | None = None, status: int = 200, done: str | None = None,
          email_error: str | None = None) -> Response:
    user = accounts.require_user(request, PAGE)
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        row = conn.execute(select(users.c.email, users.c.email_verified_at).where(users.c.id == user.id)).first()
    context = {"error": error, "nav": "settings", "email": row.email if row else None,
               "verified_at": row.email_verified_at if row else None, "done": DONE.get(done or ""),
               "email_error": email_error}
    return render(request, "account.html", context, status=status, headers=NO_STORE)


@router.get(PAGE)
def account_page(request: Request, done: str = Query("", max_length=20)) -> Response:
    accounts.require_user(request, PAGE)
    return _page(request, done=done)


@router.post(PAGE + "/email")
def change_email(request: Request, email: str = Form("", max_length=400), csrf_token: str = Form("")) -> Response:
    """Set, change or remove the account's address; a new one is unverified."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    try:
        new = verification.change_email(request.app.state.engine, user.id, email)
    except SubscriptionError as e:
        return _page(request, status=400, email_error=str(e))
    return RedirectResponse(f"{PAGE}?done={'email' if new else 'removed'}", status_code=303)


def _send(mail) -> None:
    from paperfeed.digest.mail import Mailer

    mailer = Mailer()
    try:
        mailer.send(mail)
    except Exception:  # the reader has their page; the log tells the operator
        log.exception("could not send the e-mail verification mail")
    finally:
        mailer.close()


@router.post(PAGE + "/email/verify")
def send_verification(request: Request, background: BackgroundTasks, csrf_token: str = Form("")) -> Response:
    """Mail the account's address a link that verifies it."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        row = conn.execute(select(users.c.email, users.c.email_verified_at).where(users.c.id == user.id)).first()
    if not row or not row.email:
        return _page(request, status=400, email_error="Add an e-mail address first.")
    try:
        address = verification.normalize_email(row.email)
    except SubscriptionError:
        return _page(request, status=400, email_error="This address cannot receive mail; change it first.")
    try:
        base = mail_site_url()
    except SiteUrlUnknown:
        log.warning("verification mail refused: no site_url for the link in it")
        return _page(request, status=503, email_error="This site cannot send e-mail yet: its operator has not "
                                                      "set the site's address (PAPERFEED_SITE_URL).")
    security.enforce(engine, "verify_email", f"user:{user.id}")
    background.add_task(_send, verification.verification_message(user.id, user.username, address, base))
    return RedirectResponse(f"{PAGE}?done=sent", status_code=303)


def _link_refused(exc: TokenError) -> FriendlyError:
    if isinstance(exc, verification.OtherAccount):
        return FriendlyError(400, "This verification link was sent for another account. Sign out, sign in to the "
                                  "account that asked for it, and open the link again.", "This link is for another account")
    if isinstance(exc, TokenExpired):
        return FriendlyError(400, "This verification link has expired. Ask for a new one on your account page.",
                             "This link has expired")
    return FriendlyError(400, "This verification link is not valid: it may be incomplete, or the account's address "
                              "has changed since it was sent. Ask for a new one on your account page.",
                         "This link does not work")


@router.get(CONFIRM)
def confirm_page(request: Request, token: str = Query("", max_length=2000)) -> Response:
    """The mailed link: a page with a button, changing nothing (mail scanners open every link)."""
    user = accounts.require_user(request, f"{CONFIRM}?{urlencode({'token': token})}")
    try:
        row = verification.read_token(request.app.state.engine, token)
        if row.id != user.id:
            raise verification.OtherAccount(verification.PURPOSE)
    except TokenError as e:
        raise _link_refused(e) from None
    response = render(request, "verify_email.html", {"nav": "settings", "email": row.email, "token": token},
                      headers=NO_STORE)
    response.headers["Referrer-Policy"] = "no-referrer"  # keep the token out of Referer headers
    return response


@router.post(CONFIRM)
def confirm(request: Request, token: str = Form("", max_length=2000), csrf_token: str = Form("")) -> Response:
    """The button on that page: the address is verified."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    try:
        verification.verify(request.app.state.engine, token, user.id)
    except TokenError as e:
        raise _link_refused(e) from None
    return RedirectResponse(f"{PAGE}?done=verified", status_code=303)


@router.get(PAGE + "/data.json")
def download_data(request: Request) -> Response:
    """Everything stored about the reader, as one JSON file."""
    user = accounts.require_user(request, PAGE)
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        data = account.export_user_data(conn, user.id)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="paperfeed-{user.username}.json"'}
    return Response(body, media_type="application/json", headers=headers)


@router.post(PAGE + "/delete")
def delete_account(
    request: Request,
    password: str = Form("", max_length=1000),
    csrf_token: str = Form(""),
) -> Response:
    """Delete the reader's account and everything that is theirs, then sign out."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, PAGE)
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.id == user.id)).scalar_one_or_none()
    if not accounts.verify_password(stored, password):
        return _page(request, "That is not your password; nothing was deleted.", 400)
    with engine.begin() as conn:
        account.delete_user(conn, user.id)
    accounts.start_session(request, None)
    return RedirectResponse("/", status_code=303)
