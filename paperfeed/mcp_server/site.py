"""
What every tool call needs: the database, how the server is reached, whose
library a call may read, and the refusals said as tool errors.

A reader's personal access token (scope `api`, made on `/settings/tokens`)
comes from the transport, never from a tool's arguments, which the model
writes and the conversation keeps:

- over stdio the server is one reader's own process, started by their agent
  with `PAPERFEED_MCP_TOKEN` in its environment;
- over HTTP each request carries `Authorization: Bearer pf_…`, and
  `PAPERFEED_MCP_TOKEN` is ignored: anyone who reaches the port would
  otherwise read that reader's library.

The token is checked on every call (`library.tokens.verify`), so revoking it,
or disabling its account, takes effect at once.  Over HTTP, searches count
against the client address's `rate_limit_search`, as on the site.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from sqlalchemy import Engine

from paperfeed import ids
from paperfeed.library import tokens
from paperfeed.library.errors import LibraryError
from paperfeed.web import security
from paperfeed.web.periods import PeriodError

NEEDS_TOKEN = (
    "this tool reads your library, so it needs a personal access token with the `api` scope "
    "(make one on the site's /settings/tokens page): over stdio set PAPERFEED_MCP_TOKEN in the "
    "server's environment, over HTTP send `Authorization: Bearer pf_…`"
)
BAD_TOKEN = "this access token is not valid: it is unknown, revoked or expired, or its account is disabled"


@dataclass(frozen=True)
class Site:
    engine: Engine
    transport: str  # "stdio" or "http"
    token: str | None = None  # PAPERFEED_MCP_TOKEN, read over stdio only


class Server(MCPServer):
    """The SDK's server, holding the `Site` its tools read."""

    def __init__(self, site: Site, **options) -> None:
        super().__init__(**options)
        self.site = site


def site_of(ctx: Context) -> Site:
    return ctx.mcp_server.site


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    return next((value for key, value in headers.items() if key.lower() == name), None)


def reader(ctx: Context) -> tokens.Bearer:
    """The reader whose token this call carries; a tool error without a live one."""
    site = site_of(ctx)
    given = tokens.parse_bearer(_header(ctx.headers, "authorization")) if site.transport == "http" else site.token
    if not given:
        raise ToolError(NEEDS_TOKEN)
    with site.engine.begin() as conn:  # begin: verify notes when the token was last used
        found = tokens.verify(conn, given, "api")
    if found is None:
        raise ToolError(BAD_TOKEN)
    return found


def count_search(ctx: Context) -> None:
    """Over HTTP, one search by this client address against `rate_limit_search`."""
    site = site_of(ctx)
    request = ctx.request_context.request
    client = getattr(request, "client", None)
    if site.transport == "http" and client is not None:
        security.enforce(site.engine, "search", security.address_bucket(client.host))


def canonical(arxiv_id: str) -> str:
    try:
        return ids.canonical(arxiv_id.strip())
    except ids.BadArxivId:
        raise ToolError(f"{arxiv_id[:60]!r} is not an arXiv id such as 2406.09415 or hep-th/9901001") from None


@contextmanager
def refusals() -> Iterator[None]:
    """paperfeed's own refusals (a bad category, a rate limit, …) as tool errors, in their words."""
    try:
        yield
    except LibraryError as e:  # NotFound, TooLarge, a bad filter
        raise ToolError(str(e)) from None
    except PeriodError as e:
        raise ToolError(e.api_message) from None
    except security.RateLimited as e:
        raise ToolError(f"too many searches from this address; try again in {e.retry_after} seconds") from None
    except security.FriendlyError as e:  # e.g. search unavailable (logged where it happened)
        raise ToolError(e.message) from None
