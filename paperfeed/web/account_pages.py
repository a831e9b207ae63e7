"""
A reader's account page (issue #13): download everything stored about them
as JSON, and delete the account.

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

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine, select

from paperfeed.library import account
from paperfeed.models import User
from paperfeed.web import accounts
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API
users = User.__table__
PAGE = "/settings/account"
NO_STORE = {"Cache-Control": "no-store"}


def _page(request: Request, error: str | None = None, status: int = 200) -> Response:
    return render(request, "account.html", {"error": error, "nav": "settings"}, status=status, headers=NO_STORE)


@router.get(PAGE)
def account_page(request: Request) -> Response:
    accounts.require_user(request, PAGE)
    return _page(request)


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
