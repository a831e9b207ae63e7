"""
The web site's commands: `paperfeed serve` runs it; `paperfeed user …` makes
accounts (the only way to make the first admin) and lets an operator change a
password or a role, disable, enable or delete an account.

Passwords never come from the command line, where `ps` and the shell's history
would show them: they are typed at a hidden prompt (twice), or read from
standard input (`--password-stdin`, or whenever standard input is not a
terminal), one line, e.g. from a secrets manager.
"""

from __future__ import annotations

import sys

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


def _refuse_argv_password(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise click.UsageError(
            "a password on the command line shows in `ps` and in the shell's history: "
            "type it at the prompt, or pipe it in with --password-stdin", ctx,
        )


def password_options(command):
    """`--password-stdin`, and a hidden `--password` that says why it is refused."""
    command = click.option(
        "--password", hidden=True, expose_value=False, callback=_refuse_argv_password, is_eager=True,
    )(command)
    return click.option(
        "--password-stdin", "password_stdin", is_flag=True,
        help="Read the password from the first line of standard input (the default when it is not a terminal).",
    )(command)


def _interactive() -> bool:
    return sys.stdin.isatty()


def read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a hidden prompt."""
    if from_stdin or not _interactive():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input (one line, then a newline)")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _engine():
    from paperfeed import db

    return db.connect()


@user.command("create")
@click.argument("username")
@click.option("--email", help="Email address (optional).")
@password_options
@click.option("--admin", "role", flag_value="admin", help="Make an administrator.")
@click.option("--curator", "role", flag_value="curator", help="Make a curator (may pin, hide and remove daily entries).")
def create(username: str, email: str | None, password_stdin: bool, role: str | None) -> None:
    """Create an account; the first account ever created is an administrator.

    The password is asked for (hidden, twice), or read from standard input.

    Example: paperfeed user create alice --email alice@example.org --curator
    """
    from paperfeed.web.accounts import AccountError, count_users, create_user

    engine = _engine()
    password = read_password(password_stdin)
    if role is None:
        role = "admin" if count_users(engine) == 0 else "reader"
    try:
        uid = create_user(engine, username, password, email, role)
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"created {role} {username} (id {uid})")


def _change(action, *args):
    from paperfeed.web.accounts import AccountError

    try:
        return action(_engine(), *args)
    except AccountError as e:
        raise click.ClickException(str(e)) from None


@user.command("set-password")
@click.argument("username")
@password_options
def set_password(username: str, password_stdin: bool) -> None:
    """Give an account a new password; every session of that user ends.

    Example: paperfeed user set-password alice

    Example: pass show paperfeed/alice | paperfeed user set-password alice --password-stdin
    """
    from paperfeed.web import useradmin

    _change(useradmin.set_password, username, read_password(password_stdin))
    click.echo(f"new password for {username}; their sessions have ended")


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["reader", "curator", "admin"]))
def role(username: str, role: str) -> None:
    """Make an account a reader, a curator or an administrator; its sessions end.

    Example: paperfeed user role alice curator
    """
    from paperfeed.web import useradmin

    if _change(useradmin.set_role, username, role):
        click.echo(f"{username} is now a {role}; their sessions have ended")
    else:
        click.echo(f"{username} was already a {role}")


@user.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Stop an account from signing in, and end its sessions at once.

    Its votes, submissions and library stay; `paperfeed user enable` undoes it.

    Example: paperfeed user disable mallory
    """
    from paperfeed.web import useradmin

    if _change(useradmin.disable, username):
        click.echo(f"disabled {username}: they cannot log in, and their sessions have ended")
    else:
        click.echo(f"{username} was already disabled")


@user.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Let a disabled account sign in again.

    Example: paperfeed user enable mallory
    """
    from paperfeed.web import useradmin

    if _change(useradmin.enable, username):
        click.echo(f"enabled {username}: they may log in again")
    else:
        click.echo(f"{username} was not disabled")


@user.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(username: str, yes: bool) -> None:
    """Delete an account with its votes and library; daily entries it submitted stay, without a submitter.

    Example: paperfeed user delete mallory --yes
    """
    from paperfeed.web import useradmin

    if not yes:
        click.confirm(f"Delete {username}, their votes and their library?", abort=True)
    gone = _change(useradmin.delete, username)
    removed = ", ".join(f"{n} {table}" for table, n in gone.removed.items()) or "nothing else"
    line = f"deleted {username} (id {gone.user_id}) with {removed}"
    if gone.unlinked:
        kept = ", ".join(f"{n} {table}" for table, n in gone.unlinked.items())
        line += f"; kept without them: {kept}"
    click.echo(line)
