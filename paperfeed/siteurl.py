"""
The site's absolute address, for links that leave the site: feeds, the API's
Markdown pages and e-mails.  It never comes from a request: a `Host` header is
whatever the client wrote, and a confirmation mail whose links (with valid
tokens) point at an attacker's host is the attack this module exists to stop
(issue #12).  Links inside the site's own pages stay relative.

The rule, for every caller:

1. the `site_url` setting, when the operator gave one;
2. else the address `paperfeed serve` (or `paperfeed demo`) listens on, which
   it passes to its worker processes in `LISTEN_ENV` (`listening()`);
3. else `http://localhost:8000`, the address a fresh install serves on.

E-mail is stricter (`mail_site_url()`): a link in a mail is read on another
machine, so without the setting only a loopback listen address will do (a
laptop, the demo: the reader is on the same machine).  A server bound to
0.0.0.0 or a LAN address, or a command run outside the server, refuses to
send mail (`SiteUrlUnknown`) until `site_url` is set.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from paperfeed import settings

DEFAULT_SITE = "http://localhost:8000"
# Not a setting: written by `paperfeed serve`/`demo` for the processes they start
# (uvicorn's workers inherit the environment), read back here.
LISTEN_ENV = "PAPERFEED_LISTENING_ON"


class SiteUrlUnknown(RuntimeError):
    """No address for e-mailed links: `site_url` is unset and the server is not on loopback."""

    def __init__(self, listen: str | None = None) -> None:
        where = f"the site listens on {listen}, which is not a loopback address" if listen else "no site address is known"
        super().__init__(
            f"PAPERFEED_SITE_URL is not set and {where}: no e-mail is sent until "
            "PAPERFEED_SITE_URL is the site's public address (e.g. https://papers.example.org)"
        )


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_url(host: str, port: int) -> str:
    """`http://HOST:PORT`, IPv6 addresses in brackets."""
    host = host.strip("[]")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def listening(host: str, port: int) -> None:
    """Record the address the server is about to listen on, for this process and its workers."""
    os.environ[LISTEN_ENV] = http_url(host, port)


def listen_url() -> str | None:
    """The address recorded by `listening()`, if a server command started this process."""
    return os.environ.get(LISTEN_ENV) or None


def _loopback_listen() -> str | None:
    listen = listen_url()
    if listen is None:
        return None
    return listen if is_loopback(urlsplit(listen).hostname or "") else None


def site_url() -> str:
    """The base URL absolute links start with, without a trailing slash (the rule above)."""
    configured = settings.get("site_url")
    if configured:
        return configured.rstrip("/")
    listen = listen_url()
    if listen is None:
        return DEFAULT_SITE
    parts = urlsplit(listen)
    if _unspecified(parts.hostname or ""):
        # 0.0.0.0 names no machine; the start-up line has told the operator to set site_url
        return http_url("localhost", parts.port or 80)
    return listen


def _unspecified(host: str) -> bool:
    """Whether `host` is a wildcard bind address (0.0.0.0, ::), which names no machine."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def mail_site_url() -> str:
    """The base URL of links in e-mails: `site_url`, else a loopback listen address.

    Raises `SiteUrlUnknown` otherwise; nothing may be mailed then."""
    configured = settings.get("site_url")
    if configured:
        return configured.rstrip("/")
    listen = _loopback_listen()
    if listen is None:
        raise SiteUrlUnknown(listen_url())
    return listen


def mail_refusal() -> str | None:
    """Why no e-mail can be sent (one line), or None when it can."""
    try:
        mail_site_url()
    except SiteUrlUnknown as e:
        return str(e)
    return None


def paper_url(base: str, arxiv_id: str) -> str:
    """The absolute address of a paper's page under `base`."""
    return f"{base}/papers/{arxiv_id}"
