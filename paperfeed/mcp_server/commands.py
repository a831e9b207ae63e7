"""
The `paperfeed mcp` command (registered in paperfeed/cli.py).

It imports only click at module level: the SDK (the `mcp` extra) loads when
the command runs, so `paperfeed --help` stays fast and, in an install without
the extra, the command exits with status 2 and one line saying what to
install.  Over stdio nothing but the protocol is written to standard output.
"""

from __future__ import annotations

import sys

import click

EXTRA_HINT = "pip install 'paperfeed[mcp]'"
EXIT_NOT_INSTALLED = 2


@click.command("mcp")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True,
              help="stdio: the agent starts this command itself; http: Streamable HTTP at /mcp.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (http).")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port (http).")
def mcp_command(transport: str, host: str, port: int) -> None:
    """Serve search, papers, daily lists, similar papers and (with a reader's
    token) their library and For you as Model Context Protocol tools.

    A process of its own, reading the same database and search index as
    `paperfeed serve`.  The library and For you tools need a personal access
    token (scope api, made on /settings/tokens): over stdio from
    PAPERFEED_MCP_TOKEN, over HTTP from each request's `Authorization: Bearer`
    header.

    Example: PAPERFEED_MCP_TOKEN=pf_... paperfeed mcp

    Example: paperfeed mcp --transport http --port 8765
    """
    try:
        from paperfeed.mcp_server import server
        from paperfeed.mcp_server.site import Site
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("paperfeed"):
            raise  # our own module missing is a bug, not an install without the extra
        click.echo(f"Error: the MCP server is not installed ({exc.name} is missing): {EXTRA_HINT}", err=True)
        sys.exit(EXIT_NOT_INSTALLED)
    from paperfeed import db, settings, siteurl

    token = settings.get("mcp_token") or None
    if transport == "http":
        if token:
            click.echo("note: PAPERFEED_MCP_TOKEN is ignored over HTTP; each client sends its own "
                       "`Authorization: Bearer` token", err=True)
        token = None
        where = "" if siteurl.is_loopback(host) else " (not a loopback address: reachable from the network)"
        click.echo(f"MCP over HTTP at {siteurl.http_url(host, port)}{server.PATH}{where}", err=True)
    server.run(Site(db.connect(), transport, token), host=host, port=port)
