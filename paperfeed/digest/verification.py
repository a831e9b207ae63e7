"""
An account's e-mail address, verified with a mailed link.

The digest adds a reader's For you section only to the subscription whose
confirmed address is the *verified* address of their account
(`digest.personal`), so the link must prove that whoever asked reads that
mailbox.  It carries a token signed as the digest's links are
(`subscriptions.email_serializer`: the rotatable `email_token_keys`) under a
salt of its own, so no digest link can stand in for it, naming the account
and a hash of the address; it expires after `confirm_days`.  A token for an
address the account no longer has fits nothing, and changing the address
clears `users.email_verified_at` in the same statement (`change_email`).

The link opens a page for the signed-in reader with a button (mail scanners
open every link); only that POST, by the account the token names, sets the
column (`verify`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import Engine, select, update

from paperfeed import settings
from paperfeed.digest import render
from paperfeed.digest.personal import fold
from paperfeed.digest.subscriptions import (
    TokenExpired,
    TokenInvalid,
    email_serializer,
    normalize_email,
    utcnow,
)
from paperfeed.models import User

users = User.__table__
PURPOSE = "verify-email"
SALT = "paperfeed.account.verify-email"
CONFIRM_PATH = "/settings/account/email/confirm"


class OtherAccount(TokenInvalid):
    """A valid link, opened while signed in as another account than the one it was sent for."""


def _fingerprint(address: str) -> str:
    return hashlib.sha256(fold(address).encode()).hexdigest()[:16]


def make_token(user_id: int, address: str) -> str:
    return email_serializer(SALT).dumps([user_id, _fingerprint(address)])


def read_token(engine: Engine, token: str, now: datetime | None = None):
    """The account row a token names, if it still has the address the link was sent to.

    TokenExpired after `confirm_days`; TokenInvalid when forged, for another
    purpose, for an address since changed, or for a disabled or deleted account.
    """
    try:
        payload, signed = email_serializer(SALT).loads(token or "", return_timestamp=True)
    except SignatureExpired as e:
        raise TokenExpired(PURPOSE) from e
    except BadSignature as e:
        raise TokenInvalid(PURPOSE) from e
    if ((now or utcnow()) - signed).total_seconds() > settings.get_int("confirm_days") * 86400:
        raise TokenExpired(PURPOSE)
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)
            and isinstance(payload[1], str)):
        raise TokenInvalid(PURPOSE)
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == payload[0])).first()
    if row is None or row.disabled_at is not None or not row.email or _fingerprint(row.email) != payload[1]:
        raise TokenInvalid(PURPOSE)
    return row


def verify(engine: Engine, token: str, user_id: int, now: datetime | None = None):
    """Mark the address verified for the signed-in `user_id`; returns the account row.

    OtherAccount when the token names another account.  The update only holds
    while the address is still the one the link was for (a change in between wins).
    """
    now = now or utcnow()
    row = read_token(engine, token, now)
    if row.id != user_id:
        raise OtherAccount(PURPOSE)
    with engine.begin() as conn:
        done = conn.execute(
            update(users).where(users.c.id == row.id, users.c.email == row.email).values(email_verified_at=now)
        ).rowcount
    if not done:
        raise TokenInvalid(PURPOSE)
    return read_token(engine, token, now)


def change_email(engine: Engine, user_id: int, address: str) -> str | None:
    """Set (or, with an empty one, remove) the account's address; SubscriptionError if malformed.

    A different address is unverified until its own link is followed; the same
    one (trimmed, in another case) keeps its verification.
    """
    new = normalize_email(address) if (address or "").strip() else None
    with engine.begin() as conn:
        old = conn.execute(select(users.c.email).where(users.c.id == user_id)).scalar_one_or_none()
        values: dict = {"email": new}
        if fold(old) != fold(new):
            values["email_verified_at"] = None
        conn.execute(update(users).where(users.c.id == user_id).values(**values))
    return new


def verification_message(user_id: int, username: str, address: str, base: str, now=None) -> EmailMessage:
    """The mail with the verification link (its URL starts with `base`, `siteurl.mail_site_url()`)."""
    ctx = {
        "username": username, "email": address, "base_url": base, "days": settings.get_int("confirm_days"),
        "confirm_url": render.link(base, CONFIRM_PATH, make_token(user_id, address)),
    }
    msg = EmailMessage()
    msg["Subject"] = "Verify your paperfeed e-mail address"
    msg["From"] = settings.get("mail_from")
    msg["To"] = address
    msg["Date"] = format_datetime(now or utcnow())
    msg["Message-ID"] = make_msgid(domain=render.mail_host(base))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render.env.get_template("verify.txt").render(ctx))
    msg.add_alternative(render.env.get_template("verify.html").render(ctx), subtype="html")
    return msg
