"""
The `paperfeed` command: one click group, one command per pipeline stage
(ingest → index → serve → digest), each runnable alone from cron and saying
with its exit status whether it did anything.  Heavy imports stay inside the
commands so `paperfeed --help` is instant.
"""

from __future__ import annotations

import click

from paperfeed import settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperfeed")
def cli() -> None:
    """paperfeed: self-hosted research-paper discovery.

    Settings come from PAPERFEED_* environment variables (`paperfeed settings`
    lists them); the data directory defaults to ./paperfeed-data.
    """


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="Print the reference table of docs/configuration.md instead.")
def show_settings(markdown: bool) -> None:
    """List every setting with its environment variable, current value and help.

    Example: paperfeed settings
    """
    if markdown:
        click.echo(settings.reference(), nl=False)
        return
    for s in settings.SETTINGS.values():
        value = settings.get(s.name)
        if "secret" in s.name or "password" in s.name:
            value = "(set)" if value else "(unset)"
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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
