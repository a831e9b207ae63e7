"""
Turns a composed digest (or a confirmation) into an email: multipart
plain text + HTML from the Jinja templates in `digest/templates/`.

The HTML part carries its styles inline (mail clients drop `<style>` and
external sheets) in one narrow column that reads on a phone; the text part
reads on its own.  Every digest has the headers bulk senders need: a
deterministic `Message-ID` (`<digest-{subscriber}-{period}@{host}>`, so a
resent copy is recognisably the same message), `List-Unsubscribe` with the
one-click URL and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
(RFC 8058), `List-Id` and `Auto-Submitted`.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from paperfeed import settings
from paperfeed.digest.compose import Digest, PaperInfo
from paperfeed.digest.subscriptions import make_token, utcnow

TEMPLATES = Path(__file__).parent / "templates"
PERSONAL_KINDS = ("foryou", "authors")  # sections from the account whose verified address this is
PERSONAL_NOTE = ("For you and the followed authors come from the paperfeed account whose verified address this is; "
                 "turn them off in Preferences.")


def oneline(text: str | None) -> str:
    return " ".join((text or "").split())


def shorten(text: str | None, limit: int = 300) -> str:
    text = oneline(text)
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(",.;: ") + " …"


def authors(names: list[str] | None, limit: int = 6) -> str:
    names = list(names or [])
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
env.filters.update(oneline=oneline, shorten=shorten, authors=authors)


def link(base: str, path: str, token: str) -> str:
    return f"{base}{path}?{urlencode({'token': token})}"


def links(base: str, subscriber_id: int, email: str) -> dict[str, str]:
    return {
        "manage_url": link(base, "/preferences", make_token("manage", subscriber_id, email)),
        "unsubscribe_url": link(base, "/unsubscribe", make_token("unsubscribe", subscriber_id, email)),
        "preview_url": link(base, "/digest/preview", make_token("manage", subscriber_id, email)),
    }


def mail_host(base: str) -> str:
    host = urlsplit(base).hostname
    if host:
        return host
    return settings.get("mail_from").rsplit("@", 1)[-1].strip(">") or "localhost"


def message_id(subscriber_id: int, period: str, base: str) -> str:
    return f"<digest-{subscriber_id}-{period}@{mail_host(base)}>"


def heading(digest: Digest, frequency: str) -> str:
    n = len(digest.arxiv_ids)
    day = digest.window_end.date().isoformat()
    what = "weekly" if frequency == "weekly" else "daily"
    return f"Your {what} papers, {day}: {n} paper{'s' if n != 1 else ''}"


def context(digest: Digest, papers: dict[str, PaperInfo], frequency: str, base: str) -> dict:
    sections = [
        {"title": s.title, "kind": s.kind, "papers": [(papers[a], why) for a, why in s.entries if a in papers]}
        for s in digest.sections
    ]
    return {
        "heading": heading(digest, frequency),
        "sections": sections,
        "personal_kinds": PERSONAL_KINDS,
        "personal": any(s.kind in PERSONAL_KINDS for s in digest.sections),
        "personal_note": PERSONAL_NOTE,
        "frequency": "weekly" if frequency == "weekly" else "daily",
        "email": digest.email,
        "base_url": base,
        "url": lambda p: f"{base}/papers/{p.arxiv_id}",
        **links(base, digest.subscriber_id, digest.email),
    }


def digest_html(digest: Digest, papers: dict[str, PaperInfo], frequency: str, base: str) -> str:
    return env.get_template("digest.html").render(context(digest, papers, frequency, base))


def digest_message(
    digest: Digest, papers: dict[str, PaperInfo], frequency: str, base: str, now=None
) -> EmailMessage:
    ctx = context(digest, papers, frequency, base)
    msg = EmailMessage()
    msg["Subject"] = ctx["heading"]
    msg["From"] = settings.get("mail_from")
    msg["To"] = digest.email
    msg["Date"] = format_datetime(now or utcnow())
    msg["Message-ID"] = message_id(digest.subscriber_id, digest.period, base)
    msg["List-Id"] = f"paperfeed digest <digest.{mail_host(base)}>"
    msg["List-Unsubscribe"] = f"<{ctx['unsubscribe_url']}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"
    msg.set_content(env.get_template("digest.txt").render(ctx))
    msg.add_alternative(env.get_template("digest.html").render(ctx), subtype="html")
    return msg


def confirmation_message(
    subscriber_id: int, email: str, base: str, reminder: bool = False, now=None
) -> EmailMessage:
    """The double opt-in email (or, for an address already subscribed, a reminder of its links)."""
    ctx = {
        "email": email,
        "base_url": base,
        "reminder": reminder,
        "days": settings.get_int("confirm_days"),
        "confirm_url": link(base, "/subscribe/confirm", make_token("confirm", subscriber_id, email)),
        **links(base, subscriber_id, email),
    }
    msg = EmailMessage()
    msg["Subject"] = "Your paperfeed subscription" if reminder else "Confirm your paperfeed subscription"
    msg["From"] = settings.get("mail_from")
    msg["To"] = email
    msg["Date"] = format_datetime(now or utcnow())
    msg["Message-ID"] = make_msgid(domain=mail_host(base))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(env.get_template("confirm.txt").render(ctx))
    msg.add_alternative(env.get_template("confirm.html").render(ctx), subtype="html")
    return msg
