"""
The MCP server: paperfeed's tools on the official SDK's `MCPServer`, served
over stdio (one agent's own process) or Streamable HTTP.

Over HTTP the server is stateless (every request stands alone, answered as
JSON), so nothing is kept per client and several processes can share a port's
load.  Bound to a loopback address (the default) it refuses requests whose
`Host` or `Origin` is not loopback, the SDK's guard against DNS rebinding: a
web page in the reader's browser cannot call it.
"""

from __future__ import annotations

import logging
from importlib import metadata

from mcp.types import ToolAnnotations

from paperfeed.mcp_server import personal, public
from paperfeed.mcp_server.site import Server, Site

log = logging.getLogger("paperfeed.mcp")
PATH = "/mcp"
INSTRUCTIONS = """\
paperfeed: research papers (arXiv, with Hugging Face daily lists) stored on this site.
search_papers finds papers; paper_info reads one in full; daily_papers lists a day's
papers with their upvotes; similar_papers finds papers like one. With the reader's
personal access token, library_collections and library_papers read their library and
for_you ranks new papers for them, saying why. Papers are named by arXiv id."""

TOOLS = (
    (public.search_papers, "Search papers"),
    (public.paper_info, "Paper details"),
    (public.daily_papers, "Daily papers"),
    (public.similar_papers, "Similar papers"),
    (personal.library_collections, "Your collections"),
    (personal.library_papers, "Your saved papers"),
    (personal.for_you, "For you"),
)


def _version() -> str:
    try:
        return metadata.version("paperfeed")
    except metadata.PackageNotFoundError:
        return ""


def build(site: Site) -> Server:
    """The server with every tool, reading `site`."""
    server = Server(site, name="paperfeed", instructions=INSTRUCTIONS, version=_version(),
                    log_level="WARNING")
    for fn, title in TOOLS:
        hints = ToolAnnotations(title=title, read_only_hint=True, open_world_hint=False)
        server.add_tool(fn, title=title, annotations=hints)
    return server


def run(site: Site, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until interrupted: stdio, or HTTP on host:port at `PATH`."""
    server = build(site)
    if site.transport == "stdio":
        server.run("stdio")
        return
    server.run("streamable-http", host=host, port=port, streamable_http_path=PATH,
               stateless_http=True, json_response=True)
