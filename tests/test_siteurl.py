"""
Absolute links never come from the request's Host header (issue #12, item 2).

A subscribe request with a forged `Host: evil.example` gets a real
confirmation mail (aiosmtpd) whose every link starts with the configured
`site_url`, or with the loopback address the server listens on when the
setting is unset; feeds, `.md` pages and the API ignore a forged Host; a
server bound to 0.0.0.0 without `site_url` sends no mail (the form refuses,
the scheduler stays off, `digest send` exits 78) and says why at start-up.
"""

from __future__ import annotations

import logging
import re
from datetime import date

import feedparser
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed import siteurl
from paperfeed.cli import cli
from paperfeed.digest import outbox, scheduler, subscriptions
from paperfeed.digest.subscriptions import make_token
from paperfeed.models import Subscriber
from paperfeed.web.app import create_app
from tests.webdata import add_paper, csrf

SITE = "https://papers.example.org"  # what tests.mailserver sets PAPERFEED_SITE_URL to
EVIL = "http://evil.example"
URL = re.compile(r"https?://[^\s\"'<>]+")


def forged(engine) -> TestClient:
    """A client whose every request says `Host: evil.example`."""
    return TestClient(create_app(engine), base_url=EVIL, raise_server_exceptions=False)


def links_of(message) -> list[str]:
    """Every absolute URL in a mail: both parts and the List-Unsubscribe header."""
    found = URL.findall(message.get_body(("plain",)).get_content())
    found += URL.findall(message.get_body(("html",)).get_content())
    found += URL.findall(message.get("List-Unsubscribe", ""))
    return [u.rstrip(".,;") for u in found]


def subscribe(web: TestClient, email: str):
    return web.post("/subscribe", data={"email": email, "csrf_token": csrf(web, "/")})


def subscribers(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Subscriber.__table__)).scalar_one()


def test_forged_host_mail_links_start_with_the_site_url(engine, smtp):
    r = subscribe(forged(engine), "victim@example.org")
    assert r.status_code == 200, r.text
    [mail] = smtp.handler.to("victim@example.org")
    raw = mail.as_string()
    assert "evil.example" not in raw
    links = links_of(mail)
    assert len(links) >= 3  # confirm, manage, unsubscribe
    assert all(u.startswith(SITE + "/") or u == SITE for u in links), links
    assert any("/subscribe/confirm?token=" in u for u in links)


def test_forged_host_reminder_to_a_subscriber_has_the_site_links(engine, smtp):
    subscriptions.subscribe(engine, "ada@example.org", confirmed=True)
    assert subscribe(forged(engine), "ada@example.org").status_code == 200
    [mail] = smtp.handler.to("ada@example.org")  # the reminder with their links
    assert "evil.example" not in mail.as_string()
    assert all(u.startswith(SITE + "/") or u == SITE for u in links_of(mail))


def test_without_site_url_a_loopback_server_mails_its_listen_address(engine, smtp, monkeypatch):
    monkeypatch.delenv("PAPERFEED_SITE_URL")
    monkeypatch.setenv(siteurl.LISTEN_ENV, "http://127.0.0.1:8123")
    assert subscribe(forged(engine), "victim@example.org").status_code == 200
    [mail] = smtp.handler.to("victim@example.org")
    links = links_of(mail)
    assert links and all(u.startswith("http://127.0.0.1:8123") for u in links), links


def test_a_server_on_every_address_without_site_url_refuses_mail(engine, smtp, monkeypatch):
    monkeypatch.delenv("PAPERFEED_SITE_URL")
    monkeypatch.setenv(siteurl.LISTEN_ENV, "http://0.0.0.0:8000")
    r = subscribe(forged(engine), "victim@example.org")
    assert r.status_code == 503
    assert "PAPERFEED_SITE_URL" in r.text
    assert smtp.messages == [] and subscribers(engine) == 0  # nothing sent, nothing stored
    with pytest.raises(siteurl.SiteUrlUnknown, match="0.0.0.0"):
        outbox.run(engine)


def test_the_scheduler_stays_off_without_an_address_for_mail(engine, monkeypatch):
    monkeypatch.delenv("PAPERFEED_SITE_URL", raising=False)
    monkeypatch.setenv(siteurl.LISTEN_ENV, "http://192.168.1.20:8000")
    app = create_app(engine)
    assert scheduler.start_scheduler(app) is None


@pytest.mark.parametrize(("host", "mails"), [
    ("127.0.0.1", "http://127.0.0.1:8001"),
    ("::1", "http://[::1]:8001"),
    ("localhost", "http://localhost:8001"),
    ("0.0.0.0", None),
    ("192.168.1.20", None),
])
def test_serve_passes_its_address_on_and_says_why_mail_is_off(monkeypatch, caplog, data_dir, host, mails):
    import uvicorn

    from paperfeed.web import app as web_app

    monkeypatch.delenv("PAPERFEED_SITE_URL", raising=False)
    monkeypatch.delenv(siteurl.LISTEN_ENV, raising=False)
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(env=siteurl.listen_url(), kw=kw))
    monkeypatch.setattr(web_app, "served_app", lambda: None)
    with caplog.at_level(logging.INFO, logger="paperfeed.web"):
        web_app.serve(host=host, port=8001)
    assert seen["env"] == siteurl.http_url(host, 8001)  # set before uvicorn starts (its workers inherit it)
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING and "PAPERFEED_SITE_URL" in r.message]
    if mails:
        assert siteurl.mail_site_url() == mails and not refusals
    else:
        assert len(refusals) == 1 and "\n" not in refusals[0].message
        assert siteurl.mail_refusal()


def test_digest_send_without_site_url_refuses_in_one_line(engine, monkeypatch):
    monkeypatch.delenv("PAPERFEED_SITE_URL", raising=False)
    monkeypatch.delenv(siteurl.LISTEN_ENV, raising=False)
    result = CliRunner().invoke(cli, ["digest", "send"])
    assert result.exit_code == 78
    assert result.output.count("\n") == 1 and "PAPERFEED_SITE_URL" in result.output
    result = CliRunner().invoke(cli, ["subscribe", "ada@example.org"])
    assert result.exit_code == 78 and subscribers(engine) == 0
    result = CliRunner().invoke(cli, ["subscribe", "ada@example.org", "--confirmed"])  # sends nothing
    assert result.exit_code == 0, result.output


@pytest.fixture
def listed(engine):
    add_paper(engine, "2610.11111", "A listed paper", day=date(2026, 10, 3))
    return engine


@pytest.mark.parametrize("configured", [SITE, ""])
def test_feeds_md_and_api_ignore_a_forged_host(listed, monkeypatch, configured):
    monkeypatch.setenv("PAPERFEED_SITE_URL", configured)
    monkeypatch.setenv(siteurl.LISTEN_ENV, "http://127.0.0.1:8124")
    base = configured or "http://127.0.0.1:8124"
    web = forged(listed)
    for path in ("/feeds/daily.rss", "/feeds/daily.atom?date=2026-10-03", "/feeds/trending.atom",
                 "/papers/2610.11111.md", "/api/daily_papers", "/api/papers/2610.11111"):
        r = web.get(path)
        assert r.status_code == 200, (path, r.text)
        assert "evil.example" not in r.text, path
    feed = feedparser.parse(web.get("/feeds/daily.atom?date=2026-10-03").content)
    assert feed.entries[0].link == f"{base}/papers/2610.11111"
    assert [link.href for link in feed.feed.links if link.rel == "self"] == [f"{base}/feeds/daily.atom?date=2026-10-03"]
    assert f"{base}/papers/2610.11111" in web.get("/papers/2610.11111.md").text


def test_pages_links_stay_relative_without_site_url(engine, monkeypatch):
    monkeypatch.delenv("PAPERFEED_SITE_URL", raising=False)
    row = subscriptions.subscribe(engine, "ada@example.org", confirmed=True)
    r = forged(engine).get("/preferences", params={"token": make_token("manage", row.subscriber_id, row.email)})
    assert r.status_code == 200
    assert "evil.example" not in r.text and 'href="/unsubscribe?token=' in r.text
