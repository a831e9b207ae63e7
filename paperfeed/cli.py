"""
The `paperfeed` command: one click group, one command per pipeline stage
(ingest → index → serve → digest), each runnable alone from cron and saying
with its exit status whether it did anything.  Heavy imports stay inside the
commands so `paperfeed --help` is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed import settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="paperfeed")
def cli() -> None:
    """paperfeed: self-hosted research-paper discovery.

    Settings come from PAPERFEED_* environment variables (`paperfeed settings`
    lists them); the data directory defaults to ./paperfeed-data.
    """


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["kaggle", "atom", "oai", "hf-daily", "table"]),
    help="Input format; detected from the URL or the file's first bytes when omitted.",
)
@click.option("--batch-size", type=int, help="Records per database transaction.")
@click.option("--categories", metavar="CATS", help="With the source `arxiv`: the arXiv categories to harvest, e.g. cs.LG,cs.CL.")
@click.option("--since", metavar="DATE", help="With `arxiv`: from this day (YYYY-MM-DD, yesterday, 7d) instead of from the last harvest.")
def ingest(sources: tuple[str, ...], fmt: str | None, batch_size: int | None, categories: str | None, since: str | None) -> None:
    """Ingest papers from files or URLs into the database.

    Reads the Kaggle arXiv snapshot (JSON lines, optionally .gz), arXiv API
    Atom feeds, OAI-PMH ListRecords responses, Hugging Face daily-papers JSON,
    and tables (JSONL, CSV, Parquet) with at least arxiv_id and abstract.
    Bad records are reported and appended to <data_dir>/rejects.jsonl; the
    good ones around them are stored.  The source `arxiv` with --categories
    harvests arXiv's new and updated papers in those categories (OAI-PMH),
    continuing from the last harvest: the command for a daily timer; it says
    "no new papers" when nothing changed.  Exit status: 0 all ingested (or
    nothing new), 1 some rejected, 2 nothing readable, 75 another ingest is running.

    Example: paperfeed ingest arxiv-metadata-oai-snapshot.json

    Example: paperfeed ingest arxiv --categories cs.LG,cs.CL --since yesterday
    """
    from paperfeed.ingest.run import ingest_sources
    from paperfeed.locks import job_lock_or_exit

    if "arxiv" in sources or categories or since:
        from paperfeed.ops_commands import ingest_arxiv

        ingest_arxiv(sources, fmt, categories, since, batch_size)  # exits
    with job_lock_or_exit("ingest"):
        summary = ingest_sources(list(sources), fmt, batch_size)
    click.echo(summary.line())
    sys.exit(summary.exit_status)


@cli.command()
def stats() -> None:
    """Show what the database holds: papers, daily entries, users, votes, categories.

    Example: paperfeed stats
    """
    from paperfeed.stats import collect, render

    click.echo(render(collect()))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (JSON lines on standard output when omitted).")
def export(fmt: str, output: Path | None) -> None:
    """Write every stored paper, one record per paper, readable back by `paperfeed ingest`.

    Prints per-column statistics (type, count, min/max length) to standard error.

    Example: paperfeed export --format parquet --output papers.parquet
    """
    from paperfeed.export import export_papers

    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet needs --output FILE")
    column_stats = export_papers(fmt, output)
    click.echo(column_stats, err=True)


@cli.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("paperfeed-demo"), show_default=True, help="Directory to (re)create for the demo.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-serve", is_flag=True, help="Load the sample corpus and exit without serving.")
def demo(data_dir: Path, port: int, host: str, no_serve: bool) -> None:
    """Load the bundled sample papers into a fresh data directory and show them.

    Example: paperfeed demo --port 8000
    """
    from paperfeed.demo import run_demo

    sys.exit(run_demo(data_dir, host=host, port=port, serve=not no_serve))


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


from paperfeed.web.commands import serve, user  # noqa: E402

cli.add_command(serve)
cli.add_command(user)

from paperfeed.digest.commands import digest, subscribe  # noqa: E402

cli.add_command(subscribe)
cli.add_command(digest)

from paperfeed.ops_commands import backup_command, migrate_db, restore_command  # noqa: E402

cli.add_command(backup_command)
cli.add_command(restore_command)
cli.add_command(migrate_db)


from paperfeed.search.commands import index_command, search_command  # noqa: E402

cli.add_command(index_command)
cli.add_command(search_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
