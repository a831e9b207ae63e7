"""
The site's absolute address, for links that leave the site: feeds, the API's
Markdown pages and emails.  One rule for all of them: the `site_url` setting
when an operator gave one, else the address the request came to, else the
local default a fresh install serves on.
"""

from __future__ import annotations

from paperfeed import settings

DEFAULT_SITE = "http://localhost:8000"


def site_url(request_base: str | None = None) -> str:
    """The base URL links start with, without a trailing slash: `site_url`, else
    `request_base` (e.g. `str(request.base_url)`), else localhost."""
    return (settings.get("site_url") or request_base or DEFAULT_SITE).rstrip("/")


def paper_url(base: str, arxiv_id: str) -> str:
    """The absolute address of a paper's page under `base`."""
    return f"{base}/papers/{arxiv_id}"
