"""
Verifying an account's e-mail address, against a real SMTP server (aiosmtpd)
and the real site: the account page asks for a link (sign-in, CSRF, a rate
limit, the configured site URL whatever the Host), the mail arrives, its link
opens a page whose button sets `users.email_verified_at`; a forged, expired,
outdated or someone else's link gets a page that says so, and changing the
address clears the verification.
"""

from __future__ import annotations

import re
import time
from urllib.parse import unquote, urlsplit

import itsdangerous.timed
from bs4 import BeautifulSoup
from sqlalchemy import select

from paperfeed.digest import verification
from paperfeed.models import User
from tests.webdata import client, csrf, sign_in, soup

SITE = "https://papers.example.org"
PAGE = "/settings/account"
users = User.__table__


def account(engine, uid):
    with engine.connect() as conn:
        return conn.execute(select(users).where(users.c.id == uid)).first()


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    found = re.search(rf"{re.escape(SITE)}/settings/account/email/confirm\?token=[\w.\-]+", text)
    assert found, text
    parts = urlsplit(found.group(0))
    return f"{parts.path}?{parts.query}"


def button(page) -> dict[str, str]:
    form = BeautifulSoup(page.text, "html.parser").find("form", {"method": "post", "action": verification.CONFIRM_PATH})
    assert form is not None, page.text[-2000:]
    return {i["name"]: i["value"] for i in form.find_all("input")}


def set_address(web, address: str):
    return web.post(f"{PAGE}/email", data={"email": address, "csrf_token": csrf(web, PAGE)}, follow_redirects=False)


def test_the_mailed_link_verifies_the_address(engine, smtp):
    web = client(engine)
    uid = sign_in(web, engine)
    assert "no e-mail address" in soup(web.get(PAGE)).select_one("#email-state").get_text()
    r = set_address(web, "  Ada@Example.ORG ")
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=email"
    assert account(engine, uid).email == "Ada@example.org"
    state = soup(web.get(PAGE)).select_one("#email-state").get_text()
    assert "Ada@example.org" in state and "not verified" in state

    # a forged Host header does not reach the link: it starts with the configured site URL
    r = web.post(f"{PAGE}/email/verify", data={"csrf_token": csrf(web, PAGE)}, headers={"Host": "evil.example"},
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=sent"
    [mail] = smtp.handler.to("Ada@example.org")
    assert "Verify" in mail["Subject"] and mail.get_body(("html",)) is not None
    assert "evil.example" not in mail.get_body(("plain",)).get_content()
    link = link_in(mail)

    page = web.get(link)  # what a mail scanner does too: nothing changes
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert account(engine, uid).email_verified_at is None
    signed_out = client(engine).get(link, follow_redirects=False)  # to the login page, and back to the link
    assert signed_out.status_code == 303
    assert unquote(signed_out.headers["location"]) == f"/login?next={link}"
    fields = button(page)
    assert web.post(verification.CONFIRM_PATH, data={"token": fields["token"]}).status_code == 403  # no CSRF token
    r = web.post(verification.CONFIRM_PATH, data=fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?done=verified"
    assert account(engine, uid).email_verified_at is not None
    done = soup(web.get(r.headers["location"]))
    assert "is verified" in done.select_one("#account-done").get_text()
    assert "verified on" in done.select_one("#email-state").get_text()

    # another case of the same address keeps it verified; another address does not, nor does the old link fit it
    set_address(web, "ada@example.org")
    assert account(engine, uid).email_verified_at is not None
    set_address(web, "ada@elsewhere.example")
    assert account(engine, uid).email_verified_at is None
    r = web.get(link)
    assert r.status_code == 400 and "address has changed" in r.text
    r = web.post(verification.CONFIRM_PATH, data=fields)
    assert r.status_code == 400 and account(engine, uid).email_verified_at is None


def test_forged_expired_and_other_accounts_links_are_refused_with_a_page(engine, smtp, monkeypatch):
    web = client(engine)
    uid = sign_in(web, engine)
    set_address(web, "ada@example.org")
    for forged in ("forged", "", verification.make_token(uid, "someone@example.org")):
        r = web.get(f"{verification.CONFIRM_PATH}?token={forged}")
        assert r.status_code == 400 and "not valid" in r.text, r.text[-1000:]
    # a digest link (another salt) is no verification link
    from paperfeed.digest.subscriptions import make_token

    r = web.get(f"{verification.CONFIRM_PATH}?token={make_token('manage', uid, 'ada@example.org')}")
    assert r.status_code == 400

    signed_at = int(time.time()) - 8 * 86400  # confirm_days is 7
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = verification.make_token(uid, "ada@example.org")
    r = web.get(f"{verification.CONFIRM_PATH}?token={old}")
    assert r.status_code == 400 and "expired" in r.text
    r = web.post(verification.CONFIRM_PATH, data={"token": old, "csrf_token": csrf(web, PAGE)})
    assert r.status_code == 400 and "expired" in r.text
    assert account(engine, uid).email_verified_at is None

    # a good link opened while signed in as someone else verifies nothing
    good = verification.make_token(uid, "ada@example.org")
    other = client(engine)
    sign_in(other, engine, "mallory")
    r = other.get(f"{verification.CONFIRM_PATH}?token={good}")
    assert r.status_code == 400 and "another account" in r.text
    r = other.post(verification.CONFIRM_PATH, data={"token": good, "csrf_token": csrf(other, PAGE)})
    assert r.status_code == 400 and account(engine, uid).email_verified_at is None
    assert "Traceback" not in r.text


def test_asking_for_links_needs_sign_in_csrf_an_address_and_is_rate_limited(engine, smtp, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_VERIFY_EMAIL", "2/3600")
    anonymous = client(engine)
    token = csrf(anonymous, "/")
    r = anonymous.post(f"{PAGE}/email/verify", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    web = client(engine)
    sign_in(web, engine)
    assert web.post(f"{PAGE}/email/verify", data={}).status_code == 403
    r = web.post(f"{PAGE}/email/verify", data={"csrf_token": csrf(web, PAGE)})
    assert r.status_code == 400 and "Add an e-mail address" in r.text
    r = set_address(web, "not an address")
    assert r.status_code == 400 and "does not look like an email address" in r.text
    set_address(web, "ada@example.org")
    answers = [web.post(f"{PAGE}/email/verify", data={"csrf_token": csrf(web, PAGE)}, follow_redirects=False)
               for _ in range(3)]
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert len(smtp.handler.to("ada@example.org")) == 2


def test_no_site_url_no_mail(engine, smtp, monkeypatch):
    monkeypatch.delenv("PAPERFEED_SITE_URL")
    web = client(engine)
    sign_in(web, engine)
    set_address(web, "ada@example.org")
    r = web.post(f"{PAGE}/email/verify", data={"csrf_token": csrf(web, PAGE)})
    assert r.status_code == 503 and "PAPERFEED_SITE_URL" in r.text
    assert smtp.handler.to("ada@example.org") == []
