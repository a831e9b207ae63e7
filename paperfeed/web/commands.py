"""
The web site's commands: `paperfeed serve` runs it, `paperfeed user create`
makes accounts from the command line (the only way to make the first admin).
"""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes (use PostgreSQL for more than one).")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web site, the JSON API and the feeds.

    Example: paperfeed serve --host 0.0.0.0 --port 8000 --workers 4
    """
    from paperfeed.web.app import serve as run

    click.echo(f"serving on http://{host}:{port}/")
    run(host=host, port=port, workers=workers)


@click.group()
def user() -> None:
    """Manage accounts.

    Example: paperfeed user create alice --admin
    """


@user.command("create")
@click.argument("username")
@click.option("--email", help="Email address (optional).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted for when omitted.")
@click.option("--admin", "role", flag_value="admin", help="Make an administrator.")
@click.option("--curator", "role", flag_value="curator", help="Make a curator (may pin, hide and remove daily entries).")
def create(username: str, email: str | None, password: str, role: str | None) -> None:
    """Create an account; the first account ever created is an administrator.

    Example: paperfeed user create alice --email alice@example.org --curator
    """
    from paperfeed import db
    from paperfeed.web.accounts import AccountError, count_users, create_user

    engine = db.connect()
    if role is None:
        role = "admin" if count_users(engine) == 0 else "reader"
    try:
        uid = create_user(engine, username, password, email, role)
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"created {role} {username} (id {uid})")
