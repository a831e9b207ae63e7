"""
The `paperfeed ingest` command (registered in paperfeed/cli.py): files and URLs
of any supported format, and the `arxiv` source (an OAI-PMH harvest of some
categories) for daily timers.  Every form takes the "ingest" job lock.  Heavy
imports stay inside the command so `paperfeed --help` is instant.
"""

from __future__ import annotations

import sys

import click


@click.command()
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
        ingest_arxiv(sources, fmt, categories, since, batch_size)  # exits
    with job_lock_or_exit("ingest"):
        summary = ingest_sources(list(sources), fmt, batch_size)
    click.echo(summary.line())
    sys.exit(summary.exit_status)


def ingest_arxiv(
    sources: tuple[str, ...], fmt: str | None, categories: str | None, since: str | None, batch_size: int | None
) -> None:
    """`paperfeed ingest arxiv --categories ... [--since ...]`; exits with the ingest status."""
    from paperfeed import db
    from paperfeed.ingest import harvest
    from paperfeed.locks import job_lock_or_exit

    if sources != ("arxiv",):
        raise click.UsageError("--categories and --since go with the single source `arxiv` (a file named arxiv: ./arxiv)")
    if fmt is not None:
        raise click.UsageError("--format does not apply to the source `arxiv`")
    if not categories:
        raise click.UsageError("the source `arxiv` needs --categories, e.g. --categories cs.LG,cs.CL")
    try:
        wanted = harvest.parse_categories(categories)
        start = harvest.parse_since(since) if since else None
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    engine = db.connect()
    with job_lock_or_exit("ingest", engine):
        result = harvest.harvest(wanted, start, engine, batch_size)
    click.echo(result.line())
    sys.exit(result.summary.exit_status)
