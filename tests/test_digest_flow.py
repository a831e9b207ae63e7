"""
The subscriber's whole journey against a real SMTP server (aiosmtpd) and the
real site: subscribe on the web → confirmation email → its link confirms →
preferences → the digest arrives at their hour (the clock is passed in, never
slept on) → its parts parse and its links open → one-click unsubscribe stops
the next one.  Plus what the subscribe form must never reveal.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import itsdangerous.timed
from bs4 import BeautifulSoup

from paperfeed import search
from paperfeed.digest import outbox, render, subscriptions
from tests.webdata import add_paper, client, csrf

SITE = "https://papers.example.org"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == SITE, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def link_in(message, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    found = re.search(rf"{re.escape(SITE)}{re.escape(path)}\?token=[\w.\-]+", text)
    assert found, text
    return path_of(found.group(0))


def next_local(now: datetime, hour: int, tz: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz))
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at = (local + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return at.astimezone(UTC)


def test_subscribe_confirm_digest_links_and_one_click_unsubscribe(engine, smtp):
    now = datetime.now(UTC)
    today = now.date()
    add_paper(engine, "2611.00001", "Selective state space models for long sequences",
              abstract="We study selective state space models for long-range sequence modelling.",
              published=now - timedelta(days=1), authors=["Albert Gu", "Tri Dao"])
    add_paper(engine, "2611.00002", "A much upvoted paper on protein folding",
              abstract="Protein structure prediction with transformers.", published=now - timedelta(days=2),
              day=today, upvotes=12, categories=["q-bio.BM"])
    add_paper(engine, "2201.00003", "Old state space models", abstract="State space models, years ago.",
              published=now - timedelta(days=900))
    search.update_index(engine)
    web = client(engine)

    r = web.post("/subscribe", data={"email": "ada@example.org", "csrf_token": csrf(web, "/")})
    assert r.status_code == 200 and "Check your inbox" in r.text
    [confirmation] = smtp.handler.to("ada@example.org")
    assert "Confirm" in confirmation["Subject"]
    assert confirmation.get_body(("html",)) is not None
    assert subscriptions.find(engine, "ada@example.org").status == "pending"
    assert outbox.run(engine, now=now + timedelta(days=1)).sent == 0  # unconfirmed: nothing

    r = web.get(link_in(confirmation, "/subscribe/confirm"))  # what a mail scanner does too
    assert r.status_code == 200 and "You are subscribed" not in r.text
    assert subscriptions.find(engine, "ada@example.org").status == "pending"  # opening the link changes nothing
    form = BeautifulSoup(r.text, "html.parser").find("form", {"action": "/subscribe/confirm", "method": "post"})
    r = web.post("/subscribe/confirm", data={i["name"]: i["value"] for i in form.find_all("input")})
    assert r.status_code == 200 and "You are subscribed" in r.text
    assert subscriptions.find(engine, "ada@example.org").status == "active"
    manage = BeautifulSoup(r.text, "html.parser").find("a", string=re.compile("Choose what"))["href"]
    assert web.get(path_of(manage)).status_code == 200
    r = web.post(path_of(manage), data={
        "frequency": "daily", "hour": "8", "timezone": "Europe/Paris", "weekday": "0",
        "max_papers": "10", "categories": "", "search": ["state space models", ""],
    })
    assert r.status_code == 200 and "Saved" in r.text
    row = subscriptions.find(engine, "ada@example.org")
    assert (row.status, row.hour, row.timezone, row.searches) == ("active", 8, "Europe/Paris", ["state space models"])

    due_at = next_local(now, 8, "Europe/Paris")
    assert outbox.run(engine, now=due_at - timedelta(minutes=1)).sent == 0  # not yet their hour
    report = outbox.run(engine, now=due_at + timedelta(minutes=5))
    assert report.sent == 1, report.line()
    digest = smtp.handler.to("ada@example.org")[-1]
    period = due_at.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    assert digest["Message-ID"] == f"<digest-{row.id}-D{period}@papers.example.org>"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = re.fullmatch(r"<(https://[^>]+)>", digest["List-Unsubscribe"]).group(1)

    text = digest.get_body(("plain",)).get_content()
    html = digest.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Selective state space models for long sequences" in part
        assert "A much upvoted paper on protein folding" in part
        assert "matches: state space models" in part
        assert "trending" in part
        assert "Albert Gu" in part
    assert "Old state space models" not in text  # outside the window
    assert text.count("2611.00001") == 1  # each paper once
    assert "<" not in text.replace("<https", "")  # plain text, not markup

    page = BeautifulSoup(html, "html.parser")
    hrefs = {a["href"] for a in page.find_all("a")}
    assert f"{SITE}/papers/2611.00001" in hrefs and f"{SITE}/papers/2611.00002" in hrefs
    for href in hrefs:
        assert web.get(path_of(href)).status_code == 200, href
    preview = web.get(path_of(render.link(SITE, "/digest/preview", subscriptions.make_token("manage", row.id, row.email))))
    assert preview.status_code == 200

    # RFC 8058 one-click: a bare POST, no session, no CSRF token, takes effect at once
    mail_client = client(engine)
    r = mail_client.post(path_of(unsubscribe_url), content=b"List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "Unsubscribed" in r.text
    assert subscriptions.find(engine, "ada@example.org").status == "unsubscribed"
    add_paper(engine, "2611.00004", "More state space models", published=due_at)
    before = len(smtp.messages)
    assert outbox.run(engine, now=due_at + timedelta(days=1, minutes=5)).sent == 0
    assert len(smtp.messages) == before


def normalised(response, address: str) -> tuple[int, str]:
    return response.status_code, response.text.replace(address, "ADDRESS")


def test_subscribe_answers_alike_whoever_is_asked_and_limits_confirmations(engine, smtp):
    subscriptions.subscribe(engine, "active@example.org", confirmed=True)
    gone = subscriptions.subscribe(engine, "gone@example.org", confirmed=True)
    subscriptions.unsubscribe(engine, gone.subscriber_id)
    web = client(engine)
    token = csrf(web, "/")

    def post(address):
        return normalised(web.post("/subscribe", data={"email": address, "csrf_token": token}), address)

    answers = [post("new@example.org"), post("new@example.org"), post("active@example.org"), post("gone@example.org")]
    assert all(a == answers[0] for a in answers), "the answer tells addresses apart"
    assert answers[0][0] == 200
    assert len(smtp.handler.to("new@example.org")) == 1  # the second ask was within the resend gap
    assert len(smtp.handler.to("gone@example.org")) == 1
    [reminder] = smtp.handler.to("active@example.org")  # the owner learns it, not the visitor
    assert "/preferences?token=" in reminder.get_body(("plain",)).get_content()
    later = datetime.now(UTC) + timedelta(minutes=11)
    assert subscriptions.subscribe(engine, "new@example.org", now=later).send_confirmation


def test_subscribe_form_limit_counts_an_ipv6_client_by_its_64(engine, smtp, monkeypatch):
    """A host rotating through its /64 must not get a fresh allowance of confirmation mails per address."""
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_SUBSCRIBE", "2/3600")
    app = create_app(engine)

    def post_from(address: str, email: str) -> int:
        with TestClient(app, raise_server_exceptions=False, client=(address, 50000)) as web:
            return web.post("/subscribe", data={"email": email, "csrf_token": csrf(web, "/")}).status_code

    assert [post_from(f"2001:db8:9:1::{i}", f"v{i}@example.org") for i in range(1, 4)] == [200, 200, 429]
    assert post_from("2001:db8:9:2::1", "w@example.org") == 200  # the neighbouring /64
    assert smtp.handler.to("v3@example.org") == []


def test_expired_and_forged_links_get_friendly_pages(engine, smtp, monkeypatch):
    result = subscriptions.subscribe(engine, "late@example.org")
    signed_at = int(time.time()) - 8 * 86400
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = subscriptions.make_token("confirm", result.subscriber_id, result.email)
    web = client(engine)
    r = web.get(f"/subscribe/confirm?token={old}")
    assert r.status_code == 400 and "expired" in r.text
    assert BeautifulSoup(r.text, "html.parser").find("form", {"action": "/subscribe"}) is not None
    assert subscriptions.find(engine, "late@example.org").status == "pending"

    unsubscribe = subscriptions.make_token("unsubscribe", result.subscriber_id, result.email)
    for path in ("/subscribe/confirm", "/preferences", "/digest/preview", "/unsubscribe"):
        assert web.get(f"{path}?token=forged").status_code == 400
        assert web.get(path).status_code == 400
    # a token is good for its own purpose only: the unsubscribe link cannot read saved searches
    assert web.get(f"/preferences?token={unsubscribe}").status_code == 400
    assert web.get(f"/unsubscribe?token={unsubscribe}").status_code == 200


def test_unconfirmed_addresses_are_purged(engine, smtp):
    old = datetime.now(UTC) - timedelta(days=30)
    subscriptions.subscribe(engine, "never@example.org", now=old)
    subscriptions.subscribe(engine, "fresh@example.org")
    assert subscriptions.purge_unconfirmed(engine) == 1
    assert subscriptions.find(engine, "never@example.org") is None
    assert subscriptions.find(engine, "fresh@example.org") is not None


def test_opening_the_confirmation_link_changes_nothing(engine, smtp):
    """Mail scanners and link previews GET every link: only the button's POST confirms."""
    result = subscriptions.subscribe(engine, "scan@example.org")
    token = subscriptions.make_token("confirm", result.subscriber_id, result.email)
    scanner = client(engine)
    for _ in range(3):
        r = scanner.get(f"/subscribe/confirm?token={token}")
        assert r.status_code == 200 and "Confirm your subscription" in r.text
    assert subscriptions.find(engine, "scan@example.org").status == "pending"
    form = BeautifulSoup(r.text, "html.parser").find("form", {"method": "post", "action": "/subscribe/confirm"})
    fields = {i["name"]: i["value"] for i in form.find_all("input")}
    assert fields["token"] == token and fields["csrf_token"]

    # a POST from elsewhere (no session, or a forged CSRF token) does not confirm either
    assert client(engine).post("/subscribe/confirm", data={"token": token}).status_code == 403
    assert scanner.post("/subscribe/confirm", data={"token": token, "csrf_token": "forged"}).status_code == 403
    assert scanner.post("/subscribe/confirm", data={"token": "forged", "csrf_token": fields["csrf_token"]}).status_code == 400
    assert subscriptions.find(engine, "scan@example.org").status == "pending"

    r = scanner.post("/subscribe/confirm", data=fields)
    assert r.status_code == 200 and "You are subscribed" in r.text
    assert subscriptions.find(engine, "scan@example.org").status == "active"
    r = scanner.get(f"/subscribe/confirm?token={token}")  # the link again: it says so, no button
    assert "You are subscribed" in r.text and "Confirm your subscription" not in r.text

    subscriptions.unsubscribe(engine, result.subscriber_id)  # unsubscribing wins over the old link
    assert scanner.get(f"/subscribe/confirm?token={token}").status_code == 400
    assert scanner.post("/subscribe/confirm", data=fields).status_code == 400
    assert subscriptions.find(engine, "scan@example.org").status == "unsubscribed"


def test_opening_the_unsubscribe_link_changes_nothing(engine, smtp):
    result = subscriptions.subscribe(engine, "keep@example.org", confirmed=True)
    token = subscriptions.make_token("unsubscribe", result.subscriber_id, result.email)
    r = client(engine).get(f"/unsubscribe?token={token}")
    assert r.status_code == 200
    assert BeautifulSoup(r.text, "html.parser").find("form", {"method": "post"}) is not None  # a button
    assert subscriptions.find(engine, "keep@example.org").status == "active"
