"""
The `paperfeed` command: one click group, one command per pipeline stage
(ingest → index → serve → digest), each runnable alone from cron and saying
with its exit status whether it did anything.  Heavy imports stay inside the
commands so `paperfeed --help` is instant.
"""

from __future__ import annotations

import sys

import click

from paperfeed import settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperfeed")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """paperfeed: self-hosted research-paper discovery.

    Settings come from PAPERFEED_* environment variables (`paperfeed settings`
    lists them); the data directory defaults to ./paperfeed-data.
    """
    # Every setting is checked before any command runs, so a bad value is one
    # line now rather than a traceback (or a 500 per login) later.  `settings`
    # reports them itself; help must show whatever the environment holds (the
    # subcommand's --help is parsed after this callback, hence argv).
    asks_help = any(arg in ctx.help_option_names for arg in sys.argv[1:])
    if ctx.invoked_subcommand == "settings" or asks_help or ctx.resilient_parsing:
        return
    lines = settings.problems()
    for line in lines:
        click.echo(f"Error: {line}", err=True)
    if lines:
        ctx.exit(2)


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="Print the reference table of docs/configuration.md instead.")
@click.option("--check", is_flag=True, help="Only check the values: one line for each bad one, exit status 2 if any.")
def show_settings(markdown: bool, check: bool) -> None:
    """List every setting with its environment variable, current value and help.

    Example: paperfeed settings

    Example: paperfeed settings --check
    """
    if markdown:
        click.echo(settings.reference(), nl=False)
        return
    if check:
        lines = settings.problems()
        for line in lines:
            click.echo(f"Error: {line}", err=True)
        if lines:
            sys.exit(2)
        click.echo(f"all {len(settings.SETTINGS)} settings are valid")
        return
    for s in settings.SETTINGS.values():
        value = settings.raw(s.name)  # unchecked: this listing is how an operator finds a bad one
        if s.secret:
            value = "(set)" if value else "(unset)"
        else:
            value = s.shown(value)  # a database URL's password stays out of the terminal
        click.echo(f"{s.env}={value}\n    {s.help}")


# Each package registers its own commands; the modules named here import only
# click at module level, so `paperfeed --help` loads nothing heavy.
from paperfeed.ingest.commands import ingest  # noqa: E402

cli.add_command(ingest)

from paperfeed.web.commands import serve, user  # noqa: E402

cli.add_command(serve)
cli.add_command(user)

from paperfeed.digest.commands import digest, subscribe  # noqa: E402

cli.add_command(subscribe)
cli.add_command(digest)

from paperfeed.ops.commands import backup_command, demo, export, migrate_db, restore_command, stats  # noqa: E402

cli.add_command(backup_command)
cli.add_command(restore_command)
cli.add_command(migrate_db)
cli.add_command(export)
cli.add_command(stats)
cli.add_command(demo)


from paperfeed.search.commands import index_command, search_command  # noqa: E402

cli.add_command(index_command)
cli.add_command(search_command)

from paperfeed.library.commands import library  # noqa: E402

cli.add_command(library)

from paperfeed.mcp_server.commands import mcp_command  # noqa: E402

cli.add_command(mcp_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
